"""Pipeline: precursor."""
