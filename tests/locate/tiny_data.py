"""Settings for the tiny dataset of the CNN-side locate tests (`conftest.tiny_dataset`).

The dataset goes through the real `simulate` (embedded Hakone-like default, 30 events, 12 s
records at 0.1 s), so the tests exercise the actual dataset contract.
"""

from __future__ import annotations

from quakesense.locate.detect import TriggerConfig
from quakesense.locate.train import LocateTrainConfig

# Records are 12 s and origins 1-5 s, so the LTA is shortened from the paper's 5 s to 1.5 s.
TINY_TRIGGER = TriggerConfig(sta_s=0.3, lta_s=1.5, answer_after_s=2.0)


def tiny_train_config(**changes: object) -> LocateTrainConfig:
    """A network and schedule small enough for a unit test (seconds on one core)."""
    settings = {
        "channels": [4, 8],
        "kernels": [5, 5],
        "dense_units": [16],
        "epochs": 1,
        "frames_per_event": 2,
        "window_after_detection_s": 3.0,
        "n_frames": 4,
        "trigger": TINY_TRIGGER,
        "device": "cpu",
        "progress": False,
        "patience": None,
    }
    settings.update(changes)
    return LocateTrainConfig(**settings)
