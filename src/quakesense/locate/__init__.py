"""Pipeline: locate."""
