"""Readers of outside formats: waveforms, stations, catalogs, AE files."""
