"""quakesense: deep-learning earthquake precursors, hypocentres, AE classification and forecasts."""

__version__ = "0.1.0"
MIN_LOADABLE_VERSION = "0.1.0"
