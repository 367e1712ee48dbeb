"""Tests of picking `.tradb` transients and of `quakesense aeclass pick`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.aeclass.waveforms import group_events, quality_weight, snr_db
from quakesense.cli import main
from quakesense.core.store import read_json


def test_events_are_grouped_by_coincidence_window() -> None:
    times = np.array([0.0, 1e-4, 5e-4, 2.0e-3, 2.2e-3, 10.0])
    np.testing.assert_array_equal(group_events(times, 1e-3), [0, 0, 0, 1, 1, 2])


def test_snr_and_weight_of_a_clean_onset() -> None:
    rng = np.random.default_rng(0)
    trace = rng.normal(0, 1e-3, 400)
    trace[200:] += np.sin(np.arange(200) / 3.0)  # amplitude 1 after sample 200: RMS 0.707
    assert snr_db(trace, 200, 100) == pytest.approx(20 * np.log10(0.707 / 1e-3), abs=0.5)
    np.testing.assert_allclose(quality_weight([6.0206, 20.0, -3.0]), [0.5, 0.9, 0.0], atol=1e-4)


@pytest.mark.shared_data
def test_pick_verb_feeds_locate_on_the_steel_plate(shared_data: Path, tmp_path: Path) -> None:
    from quakesense.io.picks import read_vaex_sensors

    folder = shared_data / "ae/vallenae_examples/steel_plate"
    sensors, velocity = read_vaex_sensors(folder / "sample.vaex")
    sensors.to_csv(tmp_path / "sensors.csv", index=False)
    out = tmp_path / "picked"
    assert (
        main(["aeclass", "pick", "--tradb", str(folder / "sample.tradb"), "--out", str(out)]) == 0
    )
    picks = pd.read_csv(out / "picks.csv")
    p = picks[picks["phase"] == "P"]
    assert sorted(p["sensor"]) == [1, 2, 3, 4] and p["event_id"].nunique() == 1
    assert p["weight"].between(0.9, 1.0).all()  # pencil-lead break: SNR > 20 dB
    s = picks[picks["phase"] == "S"].set_index("sensor")["time_s"]
    assert (s > p.set_index("sensor")["time_s"].loc[s.index]).all()
    assert (out / "figures" / "waveforms.png").is_file()
    assert read_json(out / "config.json")["min_snr_db"] == 6.0
    located = tmp_path / "loc"
    args = ["aeclass", "locate", "--picks", str(out / "picks.csv"), "--sensors"]
    args += [str(tmp_path / "sensors.csv"), "--velocity-m-s", str(velocity), "--out", str(located)]
    assert main(args) == 0
    xy = pd.read_csv(located / "locations.csv")[["x_m", "y_m"]].to_numpy()[0]
    assert np.hypot(*(xy - [0.222, 0.366])) < 2e-3
