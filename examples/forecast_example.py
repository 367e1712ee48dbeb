"""Forecast pipeline from Python: simulate a clustered catalog, train a ConvLSTM, map a forecast.

Run `python examples/forecast_example.py` for the embedded default (1,500 simulated days, 5
epochs) or add `--tiny` for a short smoke run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
import xarray as xr

import quakesense
from quakesense.api import forecast


def main(argv: list[str] | None = None) -> xr.DataArray:
    """Train a forecast network and return its probability map at a date of the test period."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="900 days, 40 km cells, one epoch")
    parser.add_argument("--out", type=Path, help="run folder to create (default: a temp folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="quakesense-example-")) / "forecast"

    catalog = forecast.simulate(5, n_days=900 if args.tiny else 1500)
    settings = {"models": ["convlstm"], "mc": 4.0, "device": "cpu", "progress": False, "seed": 0}
    if args.tiny:
        settings |= {
            "cell_km": 40.0,
            "history_days": 120,
            "epochs": 1,
            "window_steps": 30,
            "warm_steps": 5,
            "n_bootstrap": 10,
        }
    print(f"report: {forecast.train(forecast.ForecastConfig(**settings), out, catalog=catalog)}")

    model = quakesense.load(out)
    date = str((catalog["time"].iloc[-1] - pd.Timedelta(days=60)).date())  # test period
    probability = model.predict(catalog, date)
    print(f"{probability.attrs['description']} at {date}:")
    print(f"  max {float(probability.max()):.4f} on a {probability.shape} grid")
    return probability


if __name__ == "__main__":
    main()
