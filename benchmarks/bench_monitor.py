"""Monitor throughput: windowing + inference as hits stream in, in hits/s, against the offline
path (all windows of the whole record at once) measured in the same run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from quakesense.core.training import TrainConfig
from quakesense.precursor.features import (
    DEFAULT_FEATURES,
    WindowConfig,
    resolve_threshold,
    window_features,
)
from quakesense.precursor.models import MLPClassifier, MLPConfig
from quakesense.precursor.monitor import Monitor, replay
from quakesense.synth.ae_monitoring import AEMonitoringConfig, simulate


def main() -> None:
    torch.set_num_threads(1)
    hits, _ = simulate(AEMonitoringConfig(duration_days=35))
    window = resolve_threshold(hits, WindowConfig())
    windows = window_features(hits, window)
    x = windows[DEFAULT_FEATURES].to_numpy(dtype=float)
    y = (np.arange(len(x)) % 7 == 0).astype(int)
    train = TrainConfig(max_epochs=2, progress=False)
    model = MLPClassifier(MLPConfig(train=train), DEFAULT_FEATURES).fit(x, y, x, y)
    with tempfile.TemporaryDirectory() as folder:
        extra = {"features": DEFAULT_FEATURES, "window": window.model_dump(mode="json")}
        model.save(Path(folder) / "m", extra=extra)
        rows = []
        for batch_s in (3600.0, 60.0):
            monitor = Monitor.from_model(Path(folder) / "m")
            t0 = time.perf_counter()
            n_windows = sum(len(monitor.push(b)) for b in replay(hits, 0.0, batch_s))
            rows.append((f"monitor, {batch_s:.0f} s batches", time.perf_counter() - t0, n_windows))
    t0 = time.perf_counter()
    offline = window_features(hits, window)
    model.predict_proba(offline[DEFAULT_FEATURES].to_numpy(dtype=float))
    reference = time.perf_counter() - t0
    print(f"{'variant':<30}{'seconds':>9}{'windows':>9}{'hits/s':>12}{'ratio':>8}")
    print(
        f"{'offline, whole record':<30}{reference:>9.3f}{len(offline):>9}"
        f"{len(hits) / reference:>12.3e}{1:>8.2f}"
    )
    for name, seconds, n in rows:
        print(
            f"{name:<30}{seconds:>9.3f}{n:>9}{len(hits) / seconds:>12.3e}"
            f"{reference / seconds:>8.2f}"
        )


if __name__ == "__main__":
    main()
