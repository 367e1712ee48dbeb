"""Python API of the aeclass pipeline: a saved profile classifier as a predictor, and the
building blocks.

`AEClassPredictor.predict` turns a picks table into class probabilities with the sensor order,
phases and imputation the network was trained with (read from the model folder), as
`quakesense aeclass evaluate` does.

Building blocks (the functions the CLI verbs call):

- `simulate(config)`: the embedded hydraulic-fracturing test (`HydrofracConfig`): picks,
  sensors, events;
- `profile_data(picks, sensors, labels=...)`: arrival-time profiles as model inputs;
- `train(data, config, out_dir)`: train the network and its baselines, model in `out_dir/model`;
- `evaluate(saved, data, out_dir)`: score a saved classifier on labelled events;
- `locate_tables(picks, sensors, config, out)`: locate events from their picks into a run
  folder (`aeclass locate`); `locate_picks` returns the same locations as a table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from quakesense.aeclass.classify import ClassifierConfig, load_classifier, profile_data
from quakesense.aeclass.location import LocateConfig
from quakesense.aeclass.training import run_evaluation, run_training
from quakesense.aeclass.workflow import locate_events, locate_tables
from quakesense.core.errors import InputError
from quakesense.core.persistence import model_dir
from quakesense.core.tables import PICKS, SENSORS
from quakesense.core.training import predict
from quakesense.io.picks import check_picks
from quakesense.synth.hydrofrac import HydrofracConfig, simulate_hydrofrac

simulate = simulate_hydrofrac
"""Simulate the hydraulic-fracturing test (`synth.hydrofrac.simulate_hydrofrac`)."""
train = run_training
"""Train the profile classifier and its baselines (`aeclass.training.run_training`)."""
evaluate = run_evaluation
"""Score a saved classifier on labelled events (`aeclass.training.run_evaluation`)."""

__all__ = [
    "AEClassPredictor",
    "ClassifierConfig",
    "HydrofracConfig",
    "LocateConfig",
    "evaluate",
    "locate_picks",
    "locate_tables",
    "profile_data",
    "simulate",
    "train",
]


class AEClassPredictor:
    """A trained arrival-time-profile classifier with its classes and sensor order.

    Args:
        path: The model folder (or the run folder holding `model/`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = model_dir(path)
        self.saved = load_classifier(self.path)
        self.classes: list[str] = list(self.saved.extra["classes"])
        self.sensors: list[str] = list(self.saved.extra["sensors"])

    def predict(
        self,
        picks: pd.DataFrame,
        *,
        sensors: pd.DataFrame | None = None,
        locate: LocateConfig | None = None,
    ) -> pd.DataFrame:
        """Class probabilities per event, and locations when the sensor positions are given.

        Args:
            picks: Picks table `event_id, sensor, phase (P|S), time_s`, sensors named as in
                training; a missing pick is imputed as in training.
            sensors: Sensor table `sensor, x_m, y_m, z_m`: adds the locations that
                `quakesense aeclass locate` computes (`x_m`, `y_m`, `z_m`, `origin_time_s`,
                `residual_s`, ...), with the settings `locate` (default: Geiger, velocity
                fitted to events of known position or given in `locate.velocity_m_s`).
            locate: Location settings (`LocateConfig`); used only with `sensors`.

        Returns:
            One row per event: `event_id`, `predicted` (most probable class), `p_<class>` for
            every class, and the location columns when `sensors` is given.
        """
        picks = PICKS.validate(picks, source="picks")
        unknown = sorted(set(picks["sensor"].astype(str)) - set(self.sensors))
        if unknown:
            raise InputError(
                f"sensor(s) {unknown} unknown to the model (trained on {self.sensors})",
                source="picks",
                field="sensor",
            )
        extra = self.saved.extra
        data = profile_data(
            picks, self.sensors, phases=extra["phases"], mask_channel=extra["mask_channel"]
        )
        logits = predict(self.saved.module, self.saved.normalisation["inputs"].apply(data.features))
        proba = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
        table = pd.DataFrame(
            {
                "event_id": data.event_ids,
                "predicted": np.asarray(self.classes)[proba.argmax(axis=1)],
                **{f"p_{name}": proba[:, k] for k, name in enumerate(self.classes)},
            }
        )
        if sensors is None:
            return table
        return table.merge(locate_picks(picks, sensors, locate), on="event_id", how="left")


def locate_picks(
    picks: pd.DataFrame, sensors: pd.DataFrame, config: LocateConfig | None = None
) -> pd.DataFrame:
    """Locations of every event of `picks`, as `quakesense aeclass locate` computes them.

    Runs the verb's own checks of picks against sensors and its locating function
    (`workflow.locate_events`), in memory.
    """
    config = config or LocateConfig()
    sensors = SENSORS.validate(sensors, source="sensors")
    check_picks(picks, sensors, min_picks=4, source="picks", velocity_m_s=config.velocity_m_s)
    table, _, _ = locate_events(picks, sensors, config)
    return table
