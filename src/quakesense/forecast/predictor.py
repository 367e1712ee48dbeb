"""Python API of the forecast pipeline: a saved forecast network as a predictor, and the
building blocks.

`ForecastPredictor.predict` maps a catalog and a forecast date to the probability of at least
one M >= Mc event per cell in the model's horizon, through the same function as
`quakesense forecast predict` (`forecast.pipeline.predict_run`: gridding on the model's stored
grid, events before the date only, the stored calibration), returned as an `xarray.DataArray`.

Building blocks (the functions the CLI verbs call):

- `simulate(seed, n_days=...)`: the embedded clustered synthetic catalog;
- `train(config, out_dir, catalog=...)` / `evaluate(...)`: fit the models named in
  `ForecastConfig.models` on the training period and score the test period (one protocol);
- `grid_run(config, out_dir)`: grid a catalog into Zarr;
- `predict_run(PredictConfig(model=..., catalog=..., date=...), out_dir)`: the forecast map as
  a run folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from quakesense.core.persistence import load_model, model_dir
from quakesense.core.store import read_table, write_table
from quakesense.forecast.config import ForecastConfig, PredictConfig
from quakesense.forecast.pipeline import evaluate, grid_run, predict_run
from quakesense.synth.forecast_catalog import simulate_catalog

simulate = simulate_catalog
"""Simulate the clustered synthetic catalog (`synth.forecast_catalog.simulate_catalog`)."""
train = evaluate
"""Fit the configured models and score them (`forecast.pipeline.evaluate`); networks are saved."""

__all__ = [
    "ForecastConfig",
    "ForecastPredictor",
    "PredictConfig",
    "evaluate",
    "grid_run",
    "predict_run",
    "simulate",
    "train",
]


class ForecastPredictor:
    """A trained forecast network (ConvLSTM or CNN) with its grid, horizon and calibration.

    Args:
        path: The model folder (or the run folder holding `model/`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = model_dir(path)
        self.extra: dict[str, Any] = load_model(self.path).extra
        self.method: str = str(self.extra.get("kind", "convlstm"))
        self.mc = float(self.extra["mc"])
        self.horizon_days: tuple[int, int] = tuple(self.extra["horizon_days"])

    def predict(
        self, catalog: pd.DataFrame, date: str | pd.Timestamp, *, columns: str | None = None
    ) -> xr.DataArray:
        """Forecast probabilities on the model's grid at `date`, from events before `date`.

        Args:
            catalog: Event table with UTC `time`, `latitude`, `longitude`, `depth`,
                `magnitude` columns (the spellings the catalog reader knows, or map them
                with `columns`).
            date: Forecast time T (UTC date).
            columns: Column mapping `time=...,latitude=...` for other spellings.

        Returns:
            P(at least one M >= Mc in [T + h0, T + h1) days) with dimensions (`y`, `x`) and
            coordinates `latitude_deg`, `longitude_deg` (cell centres) and `y_index`,
            `x_index`; the date, horizon, Mc and method are attributes.
        """
        with tempfile.TemporaryDirectory(prefix="quakesense-forecast-") as tmp:
            source = write_table(catalog, Path(tmp) / "catalog.csv")
            out = Path(tmp) / "run"
            config = PredictConfig(model=self.path, catalog=source, date=str(date), columns=columns)
            predict_run(config, out)
            table = read_table(out / "forecast.csv")
        shape = (int(table["row"].max()) + 1, int(table["col"].max()) + 1)

        def grid(column: str) -> np.ndarray:
            values = np.full(shape, np.nan)
            values[table["row"], table["col"]] = table[column].to_numpy(dtype=float)
            return values

        h0, h1 = self.horizon_days
        return xr.DataArray(
            grid("probability"),
            dims=("y", "x"),
            coords={
                "y_index": ("y", np.arange(shape[0])),
                "x_index": ("x", np.arange(shape[1])),
                "latitude_deg": (("y", "x"), grid("latitude_deg")),
                "longitude_deg": (("y", "x"), grid("longitude_deg")),
            },
            name="probability",
            attrs={
                "date": str(pd.Timestamp(date).date()),
                "horizon_days": [h0, h1],
                "mc": self.mc,
                "method": self.method,
                "description": f"P(at least one M >= {self.mc:g} in [T + {h0}, T + {h1}) days)",
            },
        )
