"""Seeded simulators that make each pipeline's embedded default data."""
