"""The AE monitoring simulator: seeded, and with the precursory rise it promises."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quakesense.synth.ae_monitoring import AEMonitoringConfig, simulate, target_distance_km


def test_simulator_is_seeded_and_has_precursory_rate_rise() -> None:
    config = AEMonitoringConfig(duration_days=12, target_fractions=(0.5,), n_other_events=3)
    hits, catalog = simulate(config)
    again, _ = simulate(config)
    pd.testing.assert_frame_equal(hits, again)
    assert hits["time_s"].is_monotonic_increasing
    assert set(hits["channel"]) <= set(range(1, 9))
    target = catalog[catalog["event_id"] == "T0"].iloc[0]
    event_s = (target["time"] - pd.Timestamp(config.start_time)).total_seconds()
    assert 100 <= target_distance_km(config, catalog)[catalog["event_id"] == "T0"][0] <= 200
    t = hits["time_s"].to_numpy()
    before = np.count_nonzero((t > event_s - 3 * 3600) & (t <= event_s)) / 3
    quiet = np.count_nonzero((t > event_s - 72 * 3600) & (t <= event_s - 48 * 3600)) / 24
    assert before > 2.5 * quiet
