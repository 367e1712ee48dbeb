"""Python API of the locate pipeline: a trained hypocentre network as a predictor, and the
building blocks.

`LocatePredictor.predict` locates events given as ObsPy `Stream`s, in memory, through the same
function as `quakesense locate predict` (`locate.realdata.locate_events`: unit conversion,
band-pass, resampling onto the training grid, station matching, STA/LTA, estimate a fixed time
after detection), so results from Python and from the command line agree.

Building blocks (the functions the CLI verbs call):

- `simulate(config, out)`: a synthetic training set (`SimulateConfig`);
- `train(data_dir, out, config)`: train a network on it (`LocateTrainConfig`), model in `out/model`;
- `evaluate(out, ...)`: RMSE, error maps and depth sections against a reference;
- `predict_events(waveforms, stations, out, config, model=...)`: locate folders of event files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from quakesense.core.errors import InputError
from quakesense.io.waveforms import EventStream, Units
from quakesense.locate.evaluate import run_evaluation
from quakesense.locate.export import quakeml_catalog
from quakesense.locate.realdata import PredictConfig, locate_events, predict_events
from quakesense.locate.simulate import SimulateConfig, simulate
from quakesense.locate.train import (
    LocateTrainConfig,
    ModelFolders,
    load_locator,
    model_folders,
    run_training,
)

train = run_training
"""Train a hypocentre network on a simulated dataset (`locate.train.run_training`)."""
evaluate = run_evaluation
"""Score locations against a reference in one report (`locate.evaluate.run_evaluation`)."""

__all__ = [
    "LocatePredictor",
    "LocateTrainConfig",
    "PredictConfig",
    "SimulateConfig",
    "evaluate",
    "predict_events",
    "simulate",
    "train",
]


class LocatePredictor:
    """A trained hypocentre network (2-D CNN, 3-D CNN or ConvNetQuake), or an ensemble.

    Args:
        path: The model folder (or the run folder holding `model/`); several for an ensemble
            of networks trained for the same stations (their mean answers, their spread is
            the uncertainty).
    """

    def __init__(self, path: ModelFolders) -> None:
        self.paths = model_folders(path)
        self.locator = load_locator(self.paths)
        self.method: str = self.locator.spec.model_type

    @property
    def path(self) -> Path:
        """The (first) model folder."""
        return self.paths[0]

    @property
    def stations(self) -> pd.DataFrame:
        """The training stations (`station`, `latitude_deg`, `longitude_deg`, ...), in order."""
        return pd.DataFrame(self.locator.training.get("stations", {}))

    def predict(
        self,
        waveforms: Any,
        stations: Any = None,
        *,
        units: Units = "auto",
        catalog: bool = False,
        **settings: Any,
    ) -> pd.DataFrame | tuple[pd.DataFrame, Any]:
        """Locate events: one row per event with origin time, latitude, longitude, depth, Mw.

        Args:
            waveforms: An ObsPy `Stream` of one event, or a mapping event id -> `Stream`.
                Traces need Z (and optionally N, E) channels of the model's stations.
            stations: An ObsPy `Inventory` or a station table (`station`, `latitude_deg`,
                `longitude_deg`, `elevation_m`); default: the model's training stations.
            units: Unit of the traces (`velocity`, `acceleration`, `displacement`); `auto`
                reads it from SAC headers (`stats.sac.idep`) and refuses to guess without them.
            catalog: Also return the located events as an ObsPy `Catalog`.
            **settings: Any other `PredictConfig` setting (`fill_gaps`, `answer_after_s`,
                `trigger`, `freqmin_hz`, ...).

        Returns:
            The location table (`status` says why an event was not located), and the `Catalog`
            when `catalog` is true.
        """
        from obspy import Stream

        events = {"event": waveforms} if isinstance(waveforms, Stream) else waveforms
        if not isinstance(events, Mapping) or not all(
            isinstance(s, Stream) for s in events.values()
        ):
            raise InputError("waveforms must be an ObsPy Stream or a mapping id -> Stream")
        if stations is not None and not (
            isinstance(stations, Mapping | pd.DataFrame) or hasattr(stations, "networks")
        ):
            raise InputError("stations must be an ObsPy Inventory or a station table")
        config = PredictConfig(method=self.method, units=units, **settings)
        found = locate_events(
            [EventStream(str(event_id), stream) for event_id, stream in events.items()],
            self.stations if stations is None else _station_table(stations),
            config,
            model=self.paths,
        )
        if catalog:
            return found.table, quakeml_catalog(found.table, method=config.method)
        return found.table


def _station_table(stations: Any) -> Any:
    """A station mapping as a table; a table or an ObsPy `Inventory` as it is."""
    return pd.DataFrame(stations) if isinstance(stations, Mapping) else stations
