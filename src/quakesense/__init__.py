"""quakesense: deep-learning earthquake precursors, hypocentres, AE classification and forecasts.

`quakesense.load(path)` returns a trained model's predictor (see `quakesense.api`); importing
the package itself stays fast: the pipelines load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quakesense.api import Predictor

__version__ = "0.1.0"
MIN_LOADABLE_VERSION = "0.1.0"

__all__ = ["MIN_LOADABLE_VERSION", "__version__", "load"]


def load(path: str | Path) -> Predictor:
    """Load a trained model (model folder or the run folder holding `model/`) as its
    pipeline's predictor; see `quakesense.api.load`."""
    from quakesense.api import load as load_predictor

    return load_predictor(path)


def __getattr__(name: str) -> Any:
    """`quakesense.api` on first use, without importing the pipelines at `import quakesense`."""
    if name == "api":
        import quakesense.api

        return quakesense.api
    raise AttributeError(f"module 'quakesense' has no attribute '{name}'")
