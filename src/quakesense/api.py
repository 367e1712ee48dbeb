"""The Python API: `load` a trained model, and each pipeline's building blocks.

```python
import quakesense

model = quakesense.load("run")  # a model folder, or the run folder holding model/
model.predict(...)              # the pipeline's own inputs; see each predictor class
```

`load` registers every pipeline's model types itself and returns the predictor of the
pipeline that wrote the model. The pipelines' building blocks (`simulate`, `train`, `evaluate`,
...) are the modules `quakesense.api.precursor`, `.locate`, `.aeclass` and `.forecast`.
"""

from __future__ import annotations

from pathlib import Path

from quakesense.aeclass import predictor as aeclass
from quakesense.aeclass.predictor import AEClassPredictor
from quakesense.core.errors import InputError
from quakesense.core.persistence import model_name
from quakesense.forecast import predictor as forecast
from quakesense.forecast.predictor import ForecastPredictor
from quakesense.locate import predictor as locate
from quakesense.locate.predictor import LocatePredictor
from quakesense.precursor import predictor as precursor
from quakesense.precursor.predictor import PrecursorPredictor

Predictor = PrecursorPredictor | LocatePredictor | AEClassPredictor | ForecastPredictor

PREDICTORS: dict[str, type[Predictor]] = {
    "precursor": PrecursorPredictor,
    "locate": LocatePredictor,
    "aeclass": AEClassPredictor,
    "forecast": ForecastPredictor,
}
"""Predictor class of each pipeline; a model's registry key `<pipeline>.<name>` picks one."""

__all__ = [
    "PREDICTORS",
    "AEClassPredictor",
    "ForecastPredictor",
    "LocatePredictor",
    "PrecursorPredictor",
    "Predictor",
    "aeclass",
    "forecast",
    "load",
    "locate",
    "precursor",
]


def load(path: str | Path) -> Predictor:
    """Load a trained model as its pipeline's predictor.

    Args:
        path: A model folder (holding `model.json`) or the run folder that holds it as
            `model/`, as written by any pipeline's training verb.

    Returns:
        A `PrecursorPredictor`, `LocatePredictor`, `AEClassPredictor` or `ForecastPredictor`;
        call its `predict` on that pipeline's inputs.

    Raises:
        InputError: no model at `path`, or a model type no pipeline provides.
    """
    name = model_name(path)
    pipeline = name.split(".", 1)[0]
    if pipeline not in PREDICTORS:
        raise InputError(
            f"model type '{name}' belongs to no pipeline ({', '.join(PREDICTORS)})",
            source=path,
        )
    return PREDICTORS[pipeline](path)
