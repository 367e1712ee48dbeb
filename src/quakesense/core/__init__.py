"""Shared foundations for every pipeline: tables, storage, models, training, metrics, reports."""
