"""Python API of the forecast pipeline: a saved forecast network as a predictor, and the
building blocks.

`ForecastPredictor.predict` maps a catalog and a forecast date (or a series of dates, in one
pass) to the probability of at least one M >= Mc event per cell in the model's horizon,
through the same functions as
`quakesense forecast predict` (`io.catalog.read_catalog` on the table, then
`forecast.pipeline.forecast_map`: gridding on the model's stored grid, events before the date
only, the stored calibration), in memory, returned as an `xarray.DataArray`.

Building blocks (the functions the CLI verbs call):

- `simulate(seed, n_days=...)`: the embedded clustered synthetic catalog;
- `train(config, out_dir, catalog=...)` / `evaluate(...)`: fit the models named in
  `ForecastConfig.models` on the training period and score the test period (one protocol);
- `grid_run(config, out_dir)`: grid a catalog into Zarr;
- `predict_run(PredictConfig(model=..., catalog=..., date=...), out_dir)`: the forecast map as
  a run folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from quakesense.core.persistence import load_model, model_dir
from quakesense.forecast.config import ForecastConfig, PredictConfig
from quakesense.forecast.pipeline import evaluate, forecast_map, grid_run, predict_run
from quakesense.io.catalog import read_catalog
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
        self.saved = load_model(self.path)
        self.extra: dict[str, Any] = self.saved.extra
        self.method: str = str(self.extra.get("kind", "convlstm"))
        self.mc = float(self.extra["mc"])
        self.horizon_days: tuple[int, int] = tuple(self.extra["horizon_days"])

    def predict(
        self,
        catalog: pd.DataFrame,
        date: str | pd.Timestamp | Sequence[str | pd.Timestamp],
        *,
        columns: str | None = None,
        **settings: Any,
    ) -> xr.DataArray:
        """Forecast probabilities on the model's grid at `date`, from events before `date`.

        Args:
            catalog: Event table with UTC `time`, `latitude`, `longitude`, `depth`,
                `magnitude` columns (the spellings the catalog reader knows, or map them
                with `columns`).
            date: Forecast time T (UTC date), or a sequence of them: one pass of the network
                over the catalog serves them all (a daily series costs what its last day does).
            columns: Column mapping `time=...,latitude=...` for other spellings.
            **settings: Any other `PredictConfig` setting (`sort`, `max_gap_days`, `device`,
                `progress`).

        Returns:
            P(at least one M >= Mc in [T + h0, T + h1) days) with dimensions (`y`, `x`), or
            (`date`, `y`, `x`) for a sequence of dates (ascending, distinct), and coordinates
            `latitude_deg`, `longitude_deg` (cell centres) and `y_index`, `x_index`; the
            horizon, Mc and method are attributes, and the date one too for a single date.
        """
        single = isinstance(date, str | pd.Timestamp)
        dates = [date] if single else list(date)
        text = ",".join(str(d) for d in dates)
        config = PredictConfig(date=text, columns=columns, **settings)
        table, _ = read_catalog(catalog, columns=config.columns, sort=config.sort)
        result = forecast_map(
            self.saved,
            table,
            config.date,
            max_gap_days=config.max_gap_days,
            device=config.device,
            source=self.path,
            progress=config.progress,
        )
        lat, lon = result.spec.cell_centres_latlon()
        ny, nx = result.spec.shape
        h0, h1 = self.horizon_days
        attrs = {
            "horizon_days": [h0, h1],
            "mc": self.mc,
            "method": self.method,
            "description": f"P(at least one M >= {self.mc:g} in [T + {h0}, T + {h1}) days)",
        }
        coords = {
            "y_index": ("y", np.arange(ny)),
            "x_index": ("x", np.arange(nx)),
            "latitude_deg": (("y", "x"), lat),
            "longitude_deg": (("y", "x"), lon),
        }
        if single:
            return xr.DataArray(
                result.probability[0].astype(float),
                dims=("y", "x"),
                coords=coords,
                name="probability",
                attrs={"date": str(result.dates[0].date()), **attrs},
            )
        return xr.DataArray(
            result.probability.astype(float),
            dims=("date", "y", "x"),
            coords={"date": [d.tz_localize(None) for d in result.dates], **coords},
            name="probability",
            attrs=attrs,
        )
