"""Classical location: the grid search before and after issue 11 against a network-centroid guess.

Two data sets, one table each (median and maximum epicentral and depth error, events located,
median reported 68 % horizontal semi-axis and depth standard deviation):
- the five real Newberry events (`../shared/data/waveforms/newberry_egs_subset`, reference: the
  catalog hypocentres in their SAC headers; Coso 1-D model), as recorded, with every other
  station's files removed (sparse), and with Gaussian noise of 3x each trace's pre-event RMS
  added (noisy, seeded);
- a synthetic set of the embedded default (`locate simulate` output given by --synthetic),
  every event outside its train split, against the train-split mean hypocentre and the
  station centroid.
"old" is the grid search of commit `--old-commit` (ObsPy AR-AIC picks in a fixed band, EDT
misfit on the table nodes with a local refinement), run from `git archive` of that commit in
a subprocess on the same inputs; "new" is the current chain (band choice, STA/LTA + AIC P and
S picks with weights, pick-locate-repick, EDT probability cloud with a weak epicentre prior
around the picking stations and outlier-pick rejection, coarse-to-fine).

    python benchmarks/bench_locate_classical.py [--synthetic DATASET] [--no-newberry] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from quakesense.core.geo import haversine_km
from quakesense.io.stations import read_stations
from quakesense.io.waveforms import event_folders, read_catalog_from_headers
from quakesense.locate.realdata import PredictConfig, locate_events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_locate_newberry import newberry_stations  # a sibling script

ROOT = Path(__file__).resolve().parents[1]
NEWBERRY = ROOT.parent / "shared" / "data" / "waveforms" / "newberry_egs_subset"
COSO = ROOT.parent / "shared" / "data" / "velocity" / "rquake_wu_coso.vel.txt"

_OLD_REAL = """
import sys
from pathlib import Path
from quakesense.locate.realdata import PredictConfig, predict_events
waveforms, stations, velocity, out = sys.argv[1:5]
predict_events(Path(waveforms), Path(stations), Path(out),
               PredictConfig(method="gridsearch", units="velocity"), velocity=Path(velocity))
"""

_OLD_SYNTHETIC = """
import sys
import numpy as np, pandas as pd
from quakesense.locate.gridsearch import GridSearchLocator, PickerConfig, pick_event
from quakesense.locate.traveltime import TravelTimeTables
data = np.load(sys.argv[1])
names = [str(s) for s in data["stations"]]
tables = TravelTimeTables(data["x"], data["y"], data["z"], {"P": data["P"], "S": data["S"]})
locator = GridSearchLocator(tables, names, misfit="edt")
picker = PickerConfig(freqmax_hz=float(data["freqmax"]))
rows = []
for k, values in enumerate(data["values"]):
    picks = pick_event(values, float(data["dt"]), names, picker)
    try:
        r = locator.locate(picks)
        rows.append({"k": k, "x_km": r.x_km, "y_km": r.y_km, "z_km": r.z_km})
    except ValueError:
        rows.append({"k": k})
pd.DataFrame(rows).to_csv(sys.argv[2], index=False)
"""


def _old_tree(commit: str, folder: Path) -> Path:
    """The source tree of `commit`, unpacked from `git archive` (the repository is untouched)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def _run_old(tree: Path, script: str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-c", script, *args], check=True, env=env, timeout=3000)


def _summary(method: str, condition: str, errors: pd.DataFrame, n_events: int) -> dict:
    ok = errors.dropna(subset=["epicentre_km"])
    return {
        "data": condition,
        "method": method,
        "located": f"{len(ok)}/{n_events}",
        "epi_median_km": ok["epicentre_km"].median(),
        "epi_max_km": ok["epicentre_km"].max(),
        "depth_median_km": ok["depth_err_km"].median(),
        "depth_max_km": ok["depth_err_km"].max(),
        "reported_h68_km": ok.get("h68_km", pd.Series(dtype=float)).median(),
        "reported_depth_sd_km": ok.get("z_sd_km", pd.Series(dtype=float)).median(),
    }


def _real_errors(table: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    table = table.assign(event_id=table["event_id"].astype(str))
    merged = catalog.merge(table, on="event_id", how="left", suffixes=("_cat", ""))
    ok = merged.get("status", pd.Series("", index=merged.index)) == "ok"
    epi = haversine_km(
        merged["latitude_deg_cat"],
        merged["longitude_deg_cat"],
        merged["latitude_deg"],
        merged["longitude_deg"],
    )
    return pd.DataFrame(
        {
            "epicentre_km": np.where(ok, epi, np.nan),
            "depth_err_km": np.where(
                ok, (merged["depth_km"] - merged["depth_km_cat"]).abs(), np.nan
            ),
            "h68_km": merged.get("horizontal_uncertainty_km"),
            "z_sd_km": merged.get("depth_uncertainty_km"),
        }
    )


def _variant(source: Path, target: Path, condition: str, rng: np.random.Generator) -> Path:
    """Copies of the event folders: all files, every other station's files, or added noise."""
    from obspy import read

    for folder in event_folders(source):
        files = sorted(p for p in folder.iterdir() if p.is_file())
        stations = sorted({p.name.split(".")[1] for p in files})
        keep = set(stations[::2]) if condition == "sparse" else set(stations)
        (target / folder.name).mkdir(parents=True)
        for path in files:
            if path.name.split(".")[1] not in keep:
                continue
            stream = read(str(path))
            if condition == "noisy":
                for trace in stream:
                    pre = trace.data[: int(10 * trace.stats.sampling_rate)].astype(float)
                    rms = float(np.std(pre))
                    trace.data = trace.data + rng.normal(0.0, 3 * rms, trace.stats.npts)
                    trace.data = trace.data.astype(np.float32)
            stream.write(str(target / folder.name / path.name), format="SAC")
    return target


def newberry_table(old_tree: Path, commit: str, seed: int, work: Path) -> pd.DataFrame:
    """Errors of each method on the five Newberry events under three conditions."""
    stations_csv = newberry_stations(NEWBERRY / "staInfo_df.csv", work / "stations.csv")
    stations = read_stations(stations_csv)
    catalog = read_catalog_from_headers(NEWBERRY / "raw_sac_subset")
    catalog["event_id"] = catalog["event_id"].astype(str)
    rng = np.random.default_rng(seed)
    rows = []
    for condition in ("as recorded", "sparse", "noisy"):
        folder = _variant(
            NEWBERRY / "raw_sac_subset", work / condition.replace(" ", "_"), condition, rng
        )
        n = len(catalog)
        for corrections in ("none", "batch"):
            config = PredictConfig(
                method="gridsearch", units="velocity", station_corrections=corrections
            )
            found = locate_events(folder, stations_csv, config, velocity=COSO)
            name = "grid search new" + (" + batch delays" if corrections == "batch" else "")
            rows.append(_summary(name, condition, _real_errors(found.table, catalog), n))
        old_csv = work / f"old_{condition.replace(' ', '_')}.csv"
        _run_old(old_tree, _OLD_REAL, str(folder), str(stations_csv), str(COSO), str(old_csv))
        rows.append(
            _summary(
                f"grid search old ({commit})",
                condition,
                _real_errors(pd.read_csv(old_csv), catalog),
                n,
            )
        )
        centroid = []
        for event in event_folders(folder):
            codes = {p.name.split(".")[1] for p in event.iterdir()}
            used = stations[stations["station"].isin(codes)]
            centroid.append(
                {
                    "event_id": event.name,
                    "status": "ok",
                    "latitude_deg": used["latitude_deg"].mean(),
                    "longitude_deg": used["longitude_deg"].mean(),
                    "depth_km": np.nan,
                }
            )
        rows.append(
            _summary(
                "centroid of recording stations",
                condition,
                _real_errors(pd.DataFrame(centroid), catalog),
                n,
            )
        )
    return pd.DataFrame(rows)


def synthetic_table(
    dataset: Path, old_tree: Path, commit: str, work: Path, max_events: int
) -> pd.DataFrame:
    """Errors on the events outside the train split of a simulated set, and its train mean."""
    from quakesense.locate.gridsearch import dataset_locator, locate_event
    from quakesense.locate.train import SimulatedSet

    data = SimulatedSet.open(dataset)
    locator, projection = dataset_locator(data.meta)
    tables, names = locator.tables, locator.stations
    # The grid search learns nothing: every event outside the train split is a test event.
    rows_idx = np.concatenate([data.split_indices(split) for split in ("val", "test", "holdout")])[
        :max_events
    ]
    events = data.events.iloc[rows_idx].reset_index(drop=True)
    tx, ty = projection.to_xy_km(events["latitude_deg"], events["longitude_deg"])
    truth = np.column_stack([tx, ty, events["depth_km"]])
    dt = data.sampling_interval_s
    values = np.stack([data.event_values(int(r)) for r in rows_idx])

    def errors(xyz: np.ndarray, h68=None, zsd=None) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "epicentre_km": np.hypot(xyz[:, 0] - truth[:, 0], xyz[:, 1] - truth[:, 1]),
                "depth_err_km": np.abs(xyz[:, 2] - truth[:, 2]),
                "h68_km": h68,
                "z_sd_km": zsd,
            }
        )

    new, h68, zsd = [], [], []
    for k in range(len(rows_idx)):
        try:
            found, _ = locate_event(values[k], dt, locator)
            new.append([found.x_km, found.y_km, found.z_km])
            h68.append(found.semi_major_km)
            zsd.append(found.depth_uncertainty_km)
        except ValueError:
            new += [[np.nan] * 3]
            h68.append(np.nan)
            zsd.append(np.nan)
    highcut = data.meta.get("config", {}).get("propagation", {}).get("highcut_hz", 2.0)
    archive = work / "synthetic.npz"
    np.savez(
        archive,
        stations=np.array(names),
        x=tables.x_km,
        y=tables.y_km,
        z=tables.z_km,
        P=tables.times["P"],
        S=tables.times["S"],
        values=values,
        dt=dt,
        freqmax=min(highcut, 0.4 / dt),
    )
    old_csv = work / "old_synthetic.csv"
    _run_old(old_tree, _OLD_SYNTHETIC, str(archive), str(old_csv))
    old = pd.read_csv(old_csv).reindex(columns=["x_km", "y_km", "z_km"]).to_numpy(float)
    train = data.events.iloc[data.split_indices("train")]
    mx, my = projection.to_xy_km(train["latitude_deg"].mean(), train["longitude_deg"].mean())
    mean = np.tile([float(mx), float(my), train["depth_km"].mean()], (len(truth), 1))
    sx, sy = projection.to_xy_km(data.stations["latitude_deg"], data.stations["longitude_deg"])
    centroid = np.tile([np.mean(sx), np.mean(sy), np.nan], (len(truth), 1))
    label = f"synthetic val+test+holdout ({len(truth)} events)"
    n = len(truth)
    return pd.DataFrame(
        [
            _summary("grid search new", label, errors(np.array(new), h68, zsd), n),
            _summary(f"grid search old ({commit})", label, errors(old), n),
            _summary("train-split mean hypocentre", label, errors(mean), n),
            _summary("centroid of stations", label, errors(centroid), n),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=Path, help="dataset folder from `locate simulate`")
    parser.add_argument("--max-events", type=int, default=200, help="synthetic test events")
    parser.add_argument("--old-commit", default="b02bb0d", help="the 'old' grid search")
    parser.add_argument("--seed", type=int, default=0, help="seed of the added noise")
    parser.add_argument(
        "--newberry",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the five real events (when ../shared/data is present)",
    )
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-classical-") as tmp:
        work = Path(tmp)
        old_tree = _old_tree(args.old_commit, work)
        tables = []
        if args.newberry and NEWBERRY.is_dir():
            tables.append(newberry_table(old_tree, args.old_commit, args.seed, work))
        if args.synthetic is not None:
            tables.append(
                synthetic_table(args.synthetic, old_tree, args.old_commit, work, args.max_events)
            )
    table = pd.concat(tables, ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.json is not None:
        args.json.write_text(json.dumps(table.to_dict("records"), indent=1, default=str))


if __name__ == "__main__":
    main()
