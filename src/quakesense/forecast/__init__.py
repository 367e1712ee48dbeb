"""Pipeline: forecast."""
