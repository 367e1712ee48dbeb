"""CNNs against the classical grid search on the five real Newberry events, as a new user runs them.

Data: the five real events of `../shared/data/waveforms/newberry_egs_subset` (3-C SAC, 250 Hz;
reference: the catalog hypocentres in their SAC headers), the 15-station list of that folder and
the public Coso 1-D model (`../shared/data/velocity/rquake_wu_coso.vel.txt`). The chain is the
CLI with its defaults, in subprocesses:

    quakesense locate simulate --stations S --velocity V --out WORK/sim        (3,000 events,
        volume from the network and model, seed 0; split by event + spatial hold-out block)
    quakesense locate train --data WORK/sim --method M --config WORK/train.yaml --epochs E
        --out WORK/train_M                          (M = cnn2d, cnn3d, convnetquake; seed 0)
    quakesense locate predict --waveforms RAW --stations S --method M --model WORK/train_M ...
    quakesense locate predict --method gridsearch --velocity V ...

The Newberry SAC files leave `idep` unset, so predict gets `--units velocity`. A step whose
folder already holds a finished run is not repeated (simulate says so itself; train is skipped
when WORK/train_M is a quakesense run, wherever it was trained, e.g. with `device: cuda`), so
the expensive training is done once; the output states the epochs, seed and device each model
was actually trained with. Predict is re-run unless --keep-predictions.

The table: per method, events located, median and maximum epicentral and depth error against
the catalog, and the median per-event uncertainty the method reports (CNNs: MC-dropout spread,
68 % horizontal semi-axis and depth sd; grid search: its EDT probability cloud's 68 % ellipse
semi-major axis and depth sd). References (no skill): the centroid of the 15 stations at the
train-split mean depth (the network-centroid guess; ratios are against it) and the train-split
mean hypocentre. A second table gives each event's errors, reported uncertainty, origin-time
error and (CNNs) the STA/LTA detection time, both in seconds after the catalog origin.

    python benchmarks/bench_locate_newberry.py --work /tmp/nb --epochs 3 [--methods cnn2d ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from quakesense.core.geo import haversine_km
from quakesense.core.store import is_quakesense_dir
from quakesense.io.waveforms import read_catalog_from_headers

ROOT = Path(__file__).resolve().parents[1]
NEWBERRY = ROOT.parent / "shared" / "data" / "waveforms" / "newberry_egs_subset"
COSO = ROOT.parent / "shared" / "data" / "velocity" / "rquake_wu_coso.vel.txt"
CNN_METHODS = ("cnn2d", "cnn3d", "convnetquake")
CENTROID = "network centroid, train mean depth (reference)"
TRAIN_MEAN = "train-split mean hypocentre"
TRAIN_CONFIG = {
    "window_after_detection_s": 5.0,
    "learning_rate": 0.002,
    "frames_per_event": 2,
    "patience": None,
    "trigger": {"answer_after_s": 3.0},
    "device": "cpu",
    "progress": False,
}
"""Training settings besides the defaults, those of the synthetic accuracy table
(`train_small.yaml` in docs/pipelines/locate_cnn.md): two random time steps 1.5-5 s after
detection per event and epoch, answer 3 s after detection (the default, every step 1.5-8 s
for training and validation, is about 11x the work per epoch: beyond this shared CPU)."""


def newberry_stations(raw: Path, out: Path) -> Path:
    """`staInfo_df.csv` (unnamed code column, elevation in km as `depth`) as a station CSV."""
    table = pd.read_csv(raw)
    pd.DataFrame(
        {
            "station": table.iloc[:, 0],
            "latitude_deg": table["lat"],
            "longitude_deg": table["lon"],
            "elevation_m": table["depth"] * 1000.0,
        }
    ).to_csv(out, index=False)
    return out


def _cli(*args: str | Path) -> None:
    command = [sys.executable, "-m", "quakesense.cli", *map(str, args)]
    print("$ quakesense " + " ".join(map(str, args)), file=sys.stderr, flush=True)
    subprocess.run(command, check=True)


def location_errors(locations: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Per catalog event: epicentral and depth error (NaN where the method gave no location).

    Both tables hold `event_id`, `latitude_deg`, `longitude_deg`, `depth_km` (km below sea
    level), the catalog also its origin `time` (UTC); `locations` may add `status` ("ok" when
    located), the reported uncertainties `horizontal_uncertainty_km` and
    `depth_uncertainty_km`, and `origin_time` and the CNN's STA/LTA `detection_time` (their
    offsets from the catalog origin show whether the network answered on the event at all).
    """
    found = locations.assign(event_id=locations["event_id"].astype(str))
    merged = catalog.assign(event_id=catalog["event_id"].astype(str)).merge(
        found, on="event_id", how="left", suffixes=("_cat", "")
    )
    ok = merged.get("status", pd.Series("ok", index=merged.index)).eq("ok").to_numpy()
    epicentre = haversine_km(
        merged["latitude_deg_cat"],
        merged["longitude_deg_cat"],
        merged["latitude_deg"],
        merged["longitude_deg"],
    )
    depth = (merged["depth_km"] - merged["depth_km_cat"]).abs()
    optional = {
        column: merged.get(column, pd.Series(np.nan, index=merged.index))
        for column in (
            "horizontal_uncertainty_km",
            "depth_uncertainty_km",
            "origin_time",
            "detection_time",
        )
    }

    def seconds_after_origin(column: str) -> np.ndarray:
        times = pd.to_datetime(optional[column], utc=True, errors="coerce")
        return ((times - merged["time"]).dt.total_seconds()).to_numpy(float)

    return pd.DataFrame(
        {
            "event_id": merged["event_id"],
            "epicentre_km": np.where(ok, epicentre, np.nan),
            "depth_err_km": np.where(ok, depth, np.nan),
            "reported_h68_km": np.where(ok, optional["horizontal_uncertainty_km"], np.nan),
            "reported_depth_sd_km": np.where(ok, optional["depth_uncertainty_km"], np.nan),
            "origin_time_err_s": np.where(ok, seconds_after_origin("origin_time"), np.nan),
            "detection_s": np.where(ok, seconds_after_origin("detection_time"), np.nan),
        }
    )


def summary(errors: dict[str, pd.DataFrame], reference: str) -> pd.DataFrame:
    """One row per method: medians and maxima over the located events, ratios to `reference`."""
    rows = []
    for method, table in errors.items():
        ok = table.dropna(subset=["epicentre_km"])
        rows.append(
            {
                "method": method,
                "located": f"{len(ok)}/{len(table)}",
                "epi_median_km": ok["epicentre_km"].median(),
                "epi_max_km": ok["epicentre_km"].max(),
                "depth_median_km": ok["depth_err_km"].median(),
                "depth_max_km": ok["depth_err_km"].max(),
                "reported_h68_median_km": ok["reported_h68_km"].median(),
                "reported_depth_sd_median_km": ok["reported_depth_sd_km"].median(),
                "origin_time_err_median_s": ok["origin_time_err_s"].median(),
                "detection_median_s": ok["detection_s"].median(),
            }
        )
    table = pd.DataFrame(rows)
    ref = table.set_index("method").loc[reference]
    table["epi_median_vs_ref"] = table["epi_median_km"] / ref["epi_median_km"]
    table["depth_median_vs_ref"] = table["depth_median_km"] / ref["depth_median_km"]
    return table


def _no_skill(sim: Path, stations: Path, catalog: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The two guesses that need no waveform: network centroid and train-split mean."""
    events = pd.read_parquet(sim / "events.parquet")
    train = events[events["split"] == "train"]
    network = pd.read_csv(stations)
    guesses = {
        CENTROID: (network["latitude_deg"].mean(), network["longitude_deg"].mean()),
        TRAIN_MEAN: (train["latitude_deg"].mean(), train["longitude_deg"].mean()),
    }
    return {
        name: location_errors(
            catalog[["event_id"]].assign(
                latitude_deg=lat, longitude_deg=lon, depth_km=train["depth_km"].mean()
            ),
            catalog,
        )
        for name, (lat, lon) in guesses.items()
    }


def _training_note(run: Path) -> str:
    config = json.loads((run / "config.json").read_text())
    return (
        f"{config['model_type']}: {config['epochs']} epochs x "
        f"{config['frames_per_event'] or 'all'} time steps per event, seed {config['seed']}, "
        f"lr {config['learning_rate']}, batch {config['batch_size']}, "
        f"answer {config['trigger']['answer_after_s']} s after detection, "
        f"device {config['device']}"
    )


def main() -> None:
    """Simulate, train and predict where not done yet; print the two tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder of the runs (kept)")
    parser.add_argument("--methods", nargs="*", default=list(CNN_METHODS), choices=CNN_METHODS)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of a model not yet trained")
    parser.add_argument(
        "--keep-predictions",
        action="store_true",
        help="reuse WORK/predict_* folders that hold a finished run (default: predict again)",
    )
    parser.add_argument("--json", type=Path, help="also write both tables here")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    raw = NEWBERRY / "raw_sac_subset"
    stations = newberry_stations(NEWBERRY / "staInfo_df.csv", work / "stations.csv")
    sim = work / "sim"
    _cli("locate", "simulate", "--stations", stations, "--velocity", COSO, "--out", sim,
         "--no-progress")  # fmt: skip
    train_yaml = work / "train.yaml"
    train_yaml.write_text(yaml.safe_dump(TRAIN_CONFIG))
    catalog = read_catalog_from_headers(raw)
    errors = _no_skill(sim, stations, catalog)
    notes = []
    for method in args.methods:
        run = work / f"train_{method}"
        if not is_quakesense_dir(run):
            _cli("locate", "train", "--data", sim, "--method", method, "--config", train_yaml,
                 "--epochs", args.epochs, "--out", run)  # fmt: skip
        notes.append(_training_note(run))
    predictions = {method: ["--method", method, "--model", work / f"train_{method}"]
                   for method in args.methods}  # fmt: skip
    predictions["gridsearch"] = ["--method", "gridsearch", "--velocity", COSO]
    for method, options in predictions.items():
        out = work / f"predict_{method}"
        if not (args.keep_predictions and is_quakesense_dir(out)):
            _cli("locate", "predict", "--waveforms", raw, "--stations", stations, *options,
                 "--units", "velocity", "--out", out, "--force")  # fmt: skip
        errors[method] = location_errors(pd.read_csv(out / "locations.csv"), catalog)
    table = summary(errors, CENTROID)
    per_event = pd.concat(
        [frame.assign(method=method) for method, frame in errors.items()], ignore_index=True
    )
    splits = pd.read_parquet(sim / "events.parquet")["split"].value_counts().to_dict()
    print(f"data: 5 real Newberry events, catalog = SAC headers; training set {sim} {splits}")
    print("\n".join(notes))
    print("MC-dropout: 20 passes (predict default); grid search: EDT pdf, 68 % ellipse")
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print(per_event.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"summary": table.to_dict("records"), "events": per_event.to_dict("records")},
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
