"""Pipeline: aeclass."""
