"""CNNs against the classical grid search on the five real Newberry events, as a new user runs them.

Data: the five real events of `../shared/data/waveforms/newberry_egs_subset` (3-C SAC, 250 Hz;
reference: the catalog hypocentres in their SAC headers), the 15-station list of that folder and
the public Coso 1-D model (`../shared/data/velocity/rquake_wu_coso.vel.txt`). The chain is the
CLI with its defaults, in subprocesses:

    quakesense locate simulate --stations S --velocity V --noise-records RAW --noise-units
        velocity --out WORK/sim      (3,000 events, volume and acquisition from the network
        and model, seed 0; split by event + spatial hold-out block)
    quakesense locate train --data WORK/sim --method M --config WORK/train_seedK.yaml --epochs E
        --out WORK/train_M     (M = cnn2d, cnn3d, convnetquake; the YAML fixes the seed K only,
        0 unless --seeds; other seeds' runs go to WORK/train_M_seedK)
    quakesense locate predict --waveforms RAW --stations S --method M --model WORK/train_M ...
    quakesense locate predict --method gridsearch --velocity V ...

`simulate` also stores the records' pre-event noise (`--noise-records RAW --noise-units
velocity`; windows end 1 s before each catalog origin), which `train` mixes into every sample
at a log-uniform scale 0.5-2 (its default). These are the five test events' own records, the
only real noise in shared/: the networks have seen their stations' noise, not their events.

Calibration (printed first; `--calibration-only` stops there): per event and station, the
peak vertical velocity in the 6 s after the catalog origin and the noise RMS before it, both
through the training set's causal band at its sampling interval, against noise-free
synthetics at the catalog hypocentres (30 random mechanisms each, Mw -1.5..3 in 0.5 steps);
the magnitude at which the synthetic median peak matches the real one is each event's
model-relative Mw. Then the SNR spread of 100 events drawn as the network defaults draw them
(seed 0), to set against the real SNRs.

The Newberry SAC files leave `idep` unset, so predict gets `--units velocity`. A step whose
folder already holds a finished run is not repeated (simulate when WORK/sim is a quakesense
run, train when WORK/train_M is one, wherever it was made, e.g. with `device: cuda`), so the
expensive steps are done once; the output states the training set's acquisition and noise
records and the epochs, seed and device each model was actually trained with. Predict is
re-run unless --keep-predictions.

Training seeds (`--seeds 0 1 2`): one seed moved the 3-D CNN's five-event median by 0.5 km, so
with several seeds each seed's model is scored alone and all of them as one ensemble
(`locate predict` with one `--model` per seed: their mean answers, their spread is the
uncertainty). The station terms and twins below use the first seed's model.

Station amplitude terms: each CNN also locates every event with the terms measured on the other
four events at their catalog hypocentres (`locate predict --calibration`, leave one out, so no
event corrects itself), and with the terms measured on all five at the network's own first
locations, no catalog used (`--station-corrections batch`).

Synthetic twins (`--twins N`, CNNs): N synthetics at each event's catalog hypocentre (random
mechanisms, with isotropic parts as the training set had them, the event's calibrated Mw from
above, seed 0) with the training set's real noise at
its recorded level, located by the trained model with every station, with the event's own
missing stations zeroed (as its real record has them), and with those and the noise of the
event's own pre-event window. Where a twin lands where the real event does, the real error is
the network's own error at that hypocentre, not a synthetic-to-real gap; a twin error that
grows with the missing stations blames them. Beside them, per station, the real record's first
STA/LTA onset against the twins' (the onset channel's trigger), in seconds after the origin.

The table: per method, events located, median and maximum epicentral and depth error against
the catalog, and the median per-event uncertainty the method reports (CNNs: MC-dropout spread,
68 % horizontal semi-axis and depth sd; grid search: its EDT probability cloud's 68 % ellipse
semi-major axis and depth sd). References (no skill): the centroid of the 15 stations at the
train-split mean depth (the network-centroid guess; ratios are against it) and the train-split
mean hypocentre. A second table gives each event's errors, reported uncertainty, origin-time
error and (CNNs) the STA/LTA detection time, both in seconds after the catalog origin, and
the detection's peak contrast (below 2: the answer was made from noise).

    python benchmarks/bench_locate_newberry.py --work /tmp/nb --epochs 4 [--methods cnn2d ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from quakesense.core.geo import haversine_km
from quakesense.core.store import is_quakesense_dir
from quakesense.io.waveforms import event_folders, read_catalog_from_headers, read_event_waveforms
from quakesense.locate.dataset import events_batch
from quakesense.locate.detect import NoTriggerError, detect_event, estimate_in_time
from quakesense.locate.inputs import InputSpec, default_onset_windows_s, station_onsets
from quakesense.locate.noise import NoisePool
from quakesense.locate.preprocess import preprocess
from quakesense.locate.records import to_station_values
from quakesense.locate.seismograms import Events
from quakesense.locate.simulate import (
    KM_PER_DEGREE,
    SimulateConfig,
    TravelTimeBackend,
    build_events,
    event_rngs,
    make_compute,
    network_config,
    preprocess_settings,
    wave_parameters,
)
from quakesense.locate.train import TrainedLocator

ROOT = Path(__file__).resolve().parents[1]
NEWBERRY = ROOT.parent / "shared" / "data" / "waveforms" / "newberry_egs_subset"
COSO = ROOT.parent / "shared" / "data" / "velocity" / "rquake_wu_coso.vel.txt"
CNN_METHODS = ("cnn2d", "cnn3d", "convnetquake")
CENTROID = "network centroid, train mean depth (reference)"
SIGNAL_S = 6.0
"""Peak window after the catalog origin (S has crossed the network by 3.5 s)."""
CALIBRATION_MAGNITUDES = np.arange(-1.5, 3.01, 0.5)
MECHANISMS = 30
TRAIN_MEAN = "train-split mean hypocentre"
TRAIN_CONFIG = {"seed": 0, "progress": False}
"""What the benchmark fixes besides `--epochs`: the seed (`--seeds`, default 0) and no progress
bar. Everything else is the `locate train` default (inputs, time steps per event, learning rate,
early stopping, answer time), so the table measures what a user's first run gets."""


def model_run(work: Path, method: str, seed: int) -> Path:
    """Where the bench keeps the `locate train` run of `method` with training `seed`
    (WORK/train_M for seed 0, as before seeds were a flag; WORK/train_M_seedK otherwise)."""
    return work / (f"train_{method}" if seed == 0 else f"train_{method}_seed{seed}")


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
    offsets from the catalog origin show whether the network answered on the event at all)
    with its `detection_contrast` (below 2: on noise).
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
            "detection_contrast",
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
            "detection_contrast": np.where(ok, optional["detection_contrast"], np.nan),
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
                "contrast_min": ok["detection_contrast"].min(),
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


def real_verticals(
    raw: Path, config: SimulateConfig, stations: list[str]
) -> Iterator[tuple[Any, Any, np.ndarray, float]]:
    """Per real event: its waveforms, station values at `config`'s sampling interval, their
    vertical through `config`'s causal band (what training sees), and the catalog origin in
    seconds after the first sample."""
    dt, band = config.sampling_interval_s, preprocess_settings(config)
    for folder in event_folders(raw):
        event = read_event_waveforms(folder, units="velocity")
        values = to_station_values(event, stations, dt, min_stations=1)
        z = preprocess(values.values, dt, band)[:, 0]
        yield event, values, z, event.catalog["time"].timestamp() - values.start_time.timestamp


def real_amplitudes(raw: Path, config: SimulateConfig, stations: list[str]) -> pd.DataFrame:
    """Per event and recording station: vertical peak after the origin and noise RMS before it.

    Through `config`'s causal band at its sampling interval (what training sees); the noise
    window runs from 5 s into the record (filters settled) to 1 s before the catalog origin.
    """
    rows = []
    for event, values, z, origin_s in real_verticals(raw, config, stations):
        times = values.times_s
        signal = (times >= origin_s) & (times < origin_s + SIGNAL_S)
        noise = (times >= 5.0) & (times < origin_s - 1.0)
        rows += [
            {
                "event_id": event.event_id,
                "station": stations[k],
                "peak_m_s": float(np.abs(z[k, signal]).max()),
                "noise_rms_m_s": float(z[k, noise].std()),
            }
            for k in np.flatnonzero(values.present)
        ]
    table = pd.DataFrame(rows)
    return table.assign(snr=table["peak_m_s"] / table["noise_rms_m_s"])


def random_mechanisms(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """`n` random double couples as `Events` fields: strike and rake uniform, fault normals
    uniform on the sphere (cos dip uniform). Drawn in this order: strike, dip, rake."""
    return {
        "strike_deg": rng.uniform(0, 360, n),
        "dip_deg": np.degrees(np.arccos(rng.uniform(0, 1, n))),
        "rake_deg": rng.uniform(-180, 180, n),
    }


def synthetic_peaks(
    config: SimulateConfig,
    network: Any,
    catalog: pd.DataFrame,
    magnitudes: np.ndarray,
    n_mechanisms: int = MECHANISMS,
) -> np.ndarray:
    """Noise-free vertical peaks at the catalog hypocentres, (magnitude, event, station).

    The median over `n_mechanisms` random double couples (seed 0), through the band and
    sampling of `config`, as `locate simulate` makes them.
    """
    params = replace(wave_parameters(config), noise_rms_max_m_s=0.0)
    backend = TravelTimeBackend(network, params, make_compute("synchronous", 1)[0])
    x_km, y_km = network.projection.to_xy_km(catalog["latitude_deg"], catalog["longitude_deg"])
    n = len(catalog) * n_mechanisms
    rng = np.random.default_rng(0)
    peaks = []
    for magnitude in magnitudes:
        events = Events(
            x_km=np.repeat(x_km, n_mechanisms),
            y_km=np.repeat(y_km, n_mechanisms),
            depth_km=np.repeat(catalog["depth_km"].to_numpy(float), n_mechanisms),
            magnitude=np.full(n, magnitude),
            **random_mechanisms(rng, n),
            origin_time_s=np.full(n, 2.0),
        )
        waves = backend.synthesize(events, event_rngs(0, 0, n))
        z = preprocess(waves, config.sampling_interval_s, preprocess_settings(config))[:, :, 0]
        peaks.append(np.median(np.abs(z).max(-1).reshape(len(catalog), n_mechanisms, -1), 1))
    return np.stack(peaks)


def implied_magnitudes(
    real: pd.DataFrame, peaks: np.ndarray, magnitudes: np.ndarray, catalog: pd.DataFrame,
    stations: list[str],
) -> pd.Series:  # fmt: skip
    """Per event, the Mw at which the synthetic median peak over its stations matches the real.

    log10(real / synthetic) per station, median over the event's stations, interpolated to
    zero along the magnitudes (it falls about 1.5 per magnitude unit below the corner).
    """
    implied = {}
    for i, event_id in enumerate(catalog["event_id"].astype(str)):
        recorded = real[real["event_id"].astype(str) == event_id]
        columns = [stations.index(s) for s in recorded["station"]]
        offset = [
            np.median(np.log10(recorded["peak_m_s"].to_numpy() / peaks[m, i, columns]))
            for m in range(len(magnitudes))
        ]
        implied[event_id] = float(np.interp(0.0, -np.asarray(offset), magnitudes))
    return pd.Series(implied, name="implied_mw")


def default_snrs(stations: Path, n_events: int = 100) -> tuple[np.ndarray, np.ndarray, dict]:
    """Vertical peaks and SNRs of `n_events` events drawn as `locate simulate` draws them.

    The network defaults (seed 0, synthetic noise only); noise RMS from 1 s into the record
    (filter settled) to 0.2 s before the origin, peak over `SIGNAL_S` after it.
    """
    config, network, record = network_config(
        SimulateConfig(stations=stations, velocity=COSO, n_events=n_events)
    )
    events = build_events(config, network)
    backend = TravelTimeBackend(network, wave_parameters(config), make_compute("synchronous", 1)[0])
    dt = config.sampling_interval_s
    waves = backend.synthesize(events_batch(events), event_rngs(config.seed, 0, len(events)))
    z = preprocess(waves, dt, preprocess_settings(config))[:, :, 0]
    times = np.arange(z.shape[-1]) * dt
    peaks, snrs = [], []
    for trace, origin_s in zip(z, events["origin_time_s"], strict=True):
        peak = np.abs(trace[:, (times >= origin_s) & (times < origin_s + SIGNAL_S)]).max(-1)
        noise = trace[:, (times >= 1.0) & (times < origin_s - 0.2)].std(-1)
        peaks.append(peak)
        snrs.append(peak / noise)
    return np.concatenate(peaks), np.concatenate(snrs), record["values"]


def _amplitude_row(label: str, peaks: np.ndarray, snrs: np.ndarray) -> dict[str, Any]:
    p5, p50, p95 = np.percentile(snrs, [5, 50, 95])
    return {
        "records": label,
        "peak_median_m_s": float(np.median(peaks)),
        "noise_median_m_s": float(np.median(peaks / snrs)),
        "snr_p5": p5,
        "snr_p50": p50,
        "snr_p95": p95,
    }


def calibration(stations: Path) -> dict[str, Any]:
    """Real against synthetic amplitudes and SNRs on the Newberry network (printed)."""
    config, network, _ = network_config(SimulateConfig(stations=stations, velocity=COSO))
    names = [str(s) for s in network.stations["station"]]
    raw = NEWBERRY / "raw_sac_subset"
    catalog = read_catalog_from_headers(raw)
    real = real_amplitudes(raw, config, names)
    peaks = synthetic_peaks(config, network, catalog, CALIBRATION_MAGNITUDES)
    implied = implied_magnitudes(real, peaks, CALIBRATION_MAGNITUDES, catalog, names)
    per_event = (
        real.groupby("event_id")[["peak_m_s", "noise_rms_m_s", "snr"]]
        .median()
        .join(real.groupby("event_id").size().rename("stations"))
        .join(implied)
    )
    synthetic_peak, synthetic_snr, values = default_snrs(stations)
    label = (
        f"synthetic defaults, 100 events, M {values['magnitude_min']:g}.."
        f"{values['magnitude_max']:g}, seed 0"
    )
    summary_rows = pd.DataFrame(
        [
            _amplitude_row(
                f"real, 5 events ({len(real)} station records)",
                real["peak_m_s"].to_numpy(),
                real["snr"].to_numpy(),
            ),
            _amplitude_row(label, synthetic_peak, synthetic_snr),
        ]
    )
    band = preprocess_settings(config).highcut_hz
    print(
        "calibration: vertical velocity through the training band "
        f"({config.sampling_interval_s} s, {band} Hz causal)"
    )
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(per_event.to_string(float_format=lambda v: f"{v:.3g}"))
        print(summary_rows.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return {
        "per_event": per_event.reset_index().to_dict("records"),
        "summary": summary_rows.to_dict("records"),
    }


PHASE_WINDOW_S = 0.5
"""P and S peaks: from 0.05 s before each predicted arrival to this long after (P: at most to
0.05 s before S)."""
PHASE_MIN_SNR = 5.0
"""Real P/S ratios only where both peaks stand this many noise RMS above the noise."""
ISOTROPIC_MAX = 1.0
"""The synthetic P/S ratios are also given with isotropic parts up to this (`source.
isotropic_max`)."""


def phase_peaks(
    z: np.ndarray, dt: float, origin_s: float | np.ndarray, p_s: np.ndarray, s_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Peak |z| (..., n_stations) in the P and S windows (`PHASE_WINDOW_S`) of each station.

    `z` (..., n_stations, n_samples); `p_s`, `s_s` travel times (n_stations,) after an origin
    `origin_s` seconds into the record.
    """

    def window(first_s: np.ndarray, last_s: np.ndarray) -> np.ndarray:
        times = np.arange(z.shape[-1]) * dt - np.asarray(origin_s)[..., None, None]
        inside = (times >= first_s[:, None]) & (times <= last_s[:, None])
        return np.where(inside, np.abs(z), 0.0).max(-1)

    p_end = np.minimum(p_s + PHASE_WINDOW_S, s_s - 0.05)
    return window(p_s - 0.05, p_end), window(s_s - 0.05, s_s + PHASE_WINDOW_S)


def phase_ratios(stations: Path, n_mechanisms: int = MECHANISMS) -> pd.DataFrame:
    """Per station, the vertical P/S peak ratio of the real events against synthetics.

    Real: each event's records through the training band, P and S windows at the catalog
    origin plus the model's travel times from the catalog hypocentre, kept where both peaks
    stand `PHASE_MIN_SNR` noise RMS above the pre-event noise. Synthetic: noise-free at the
    same hypocentres, median over `n_mechanisms` random double couples (seed 0), and the same
    with isotropic parts uniform in +-`ISOTROPIC_MAX`. log10 ratios, median over the events.
    """
    config, network, _ = network_config(SimulateConfig(stations=stations, velocity=COSO))
    names = [str(s) for s in network.stations["station"]]
    params = replace(wave_parameters(config), noise_rms_max_m_s=0.0)
    backend = TravelTimeBackend(network, params, make_compute("synchronous", 1)[0])
    dt, band = config.sampling_interval_s, preprocess_settings(config)
    raw = NEWBERRY / "raw_sac_subset"
    catalog = read_catalog_from_headers(raw)
    catalog["event_id"] = catalog["event_id"].astype(str)
    rng = np.random.default_rng(0)
    rows = []
    for event, values, z, origin_s in real_verticals(raw, config, names):
        noise = z[:, (values.times_s >= 5.0) & (values.times_s < origin_s - 1.0)].std(-1)
        row = catalog[catalog["event_id"] == event.event_id]
        x_km, y_km = network.projection.to_xy_km(row["latitude_deg"], row["longitude_deg"])
        point = (x_km, y_km, row["depth_km"].to_numpy(float))
        p_s, s_s = backend.tables.at("P", *point)[0], backend.tables.at("S", *point)[0]
        real_p, real_s = phase_peaks(z, dt, origin_s, p_s, s_s)
        synthetic = {}
        for label, isotropic_max in (("double couples", 0.0), ("isotropic", ISOTROPIC_MAX)):
            events = Events(
                x_km=np.full(n_mechanisms, float(x_km[0])),
                y_km=np.full(n_mechanisms, float(y_km[0])),
                depth_km=np.full(n_mechanisms, point[2][0]),
                magnitude=np.zeros(n_mechanisms),
                **random_mechanisms(rng, n_mechanisms),
                origin_time_s=np.full(n_mechanisms, 2.0),
                isotropic=rng.uniform(-isotropic_max, isotropic_max, n_mechanisms),
            )
            waves = backend.synthesize(events, event_rngs(0, 0, n_mechanisms))
            p_peak, s_peak = phase_peaks(preprocess(waves, dt, band)[:, :, 0], dt, 2.0, p_s, s_s)
            synthetic[label] = np.median(np.log10(p_peak / s_peak), axis=0)
        clear = values.present & (np.minimum(real_p, real_s) > PHASE_MIN_SNR * noise)
        rows += [
            {
                "event_id": event.event_id,
                "station": names[k],
                "east_km": float(network.stations["x_km"].iloc[k]),
                "real_log_p_over_s": float(np.log10(real_p[k] / real_s[k])),
                "double_couples_log_p_over_s": float(synthetic["double couples"][k]),
                "isotropic_log_p_over_s": float(synthetic["isotropic"][k]),
            }
            for k in np.flatnonzero(clear)
        ]
    table = pd.DataFrame(rows)
    per_station = (
        table.groupby("station")
        .agg(
            events=("event_id", "size"),
            east_km=("east_km", "first"),
            real=("real_log_p_over_s", "median"),
            double_couples=("double_couples_log_p_over_s", "median"),
            isotropic=("isotropic_log_p_over_s", "median"),
        )
        .sort_values("east_km")
    )
    print(
        f"vertical P/S peak ratio, log10, median over the events where both peaks stand "
        f"{PHASE_MIN_SNR:g} noise RMS above the noise: real against {n_mechanisms} random "
        f"double couples, and with isotropic parts up to {ISOTROPIC_MAX:g} (seed 0)"
    )
    print(per_station.to_string(float_format=lambda v: f"{v:.2f}"))
    print(
        "all records: real "
        f"{table['real_log_p_over_s'].median():.2f}, double couples "
        f"{table['double_couples_log_p_over_s'].median():.2f}, isotropic "
        f"{table['isotropic_log_p_over_s'].median():.2f} ({len(table)} records)"
    )
    return table


def leave_one_out(raw: Path, work: Path, stations: Path, method: str, model: Path) -> pd.DataFrame:
    """Each event located with station amplitude terms from the other four (`--calibration`).

    The terms never see the event they correct: WORK/loo/EVENT/calibration links the other
    event folders, WORK/loo/EVENT/event the event itself.
    """
    folders = event_folders(raw)
    tables = []
    for folder in folders:
        base = work / "loo" / folder.name
        links = {
            base / "event": [folder],
            base / "calibration": [f for f in folders if f != folder],
        }
        for where, members in links.items():
            where.mkdir(parents=True, exist_ok=True)
            for member in members:
                if not (where / member.name).exists():
                    (where / member.name).symlink_to(member)
        out = base / f"predict_{method}"
        _cli("locate", "predict", "--waveforms", base / "event", "--stations", stations,
             "--method", method, "--model", model, "--calibration",
             base / "calibration", "--units", "velocity", "--out", out, "--force",
             "--no-progress")  # fmt: skip
        tables.append(pd.read_csv(out / "locations.csv"))
    return pd.concat(tables, ignore_index=True)


def east_north_km(
    latitude_deg: np.ndarray, longitude_deg: np.ndarray, catalog: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets (km) of estimates from the catalog epicentres, row by row."""
    north = (np.asarray(latitude_deg) - catalog["latitude_deg"].to_numpy()) * KM_PER_DEGREE
    east = (np.asarray(longitude_deg) - catalog["longitude_deg"].to_numpy()) * (
        KM_PER_DEGREE * np.cos(np.radians(catalog["latitude_deg"].to_numpy()))
    )
    return east, north


ONSET_SEARCH_S = (-1.0, 4.0)
"""Onsets compared between real events and twins: the first one in this window around the
origin (S has crossed the network by 3.5 s)."""


def onset_spec(spec: InputSpec) -> InputSpec:
    """The model's onset trigger; for a model without the onset channel the training default
    (STA one clip step, LTA ten STAs)."""
    if spec.onset_channel:
        return spec
    sta_s, lta_s = default_onset_windows_s(spec.frame_step * spec.sampling_interval_s)
    return replace(spec, onset_channel=True, onset_sta_s=sta_s, onset_lta_s=lta_s)


def first_onsets_s(spec: InputSpec, vertical: np.ndarray, origin_s: float) -> np.ndarray:
    """Per station, its first onset (`station_onsets`) in `ONSET_SEARCH_S` around the origin,
    in seconds after it; NaN where there is none."""
    dt = spec.sampling_interval_s
    out = np.full(len(vertical), np.nan)
    for station, onsets in enumerate(station_onsets(spec, vertical)):
        after_s = onsets * dt - origin_s
        inside = after_s[(after_s >= ONSET_SEARCH_S[0]) & (after_s <= ONSET_SEARCH_S[1])]
        if inside.size:
            out[station] = inside[0]
    return out


TWIN_ORIGIN_S = 8.0
"""Origin time of the twins in their records (the pre-event noise before it)."""


def twin_events(
    hypocentre_km: tuple[float, float, float],
    magnitude: float,
    n_twins: int,
    isotropic_max: float,
    rng: np.random.Generator,
) -> Events:
    """`n_twins` events at one hypocentre (x, y, depth km) and magnitude with random double
    couples, plus isotropic parts in +-`isotropic_max` when the training set had them (drawn
    after the mechanisms, so a set without them gives the same twins as before they existed)."""
    x_km, y_km, depth_km = hypocentre_km
    return Events(
        x_km=np.full(n_twins, x_km),
        y_km=np.full(n_twins, y_km),
        depth_km=np.full(n_twins, depth_km),
        magnitude=np.full(n_twins, magnitude),
        **random_mechanisms(rng, n_twins),
        origin_time_s=np.full(n_twins, TWIN_ORIGIN_S),
        isotropic=rng.uniform(-isotropic_max, isotropic_max, n_twins) if isotropic_max else None,
    )


def twins(
    sim: Path,
    run: Path,
    raw: Path,
    catalog: pd.DataFrame,
    magnitudes: pd.Series,
    n_twins: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per event: the model's errors on synthetic twins at its catalog hypocentre; per event
    and station: the real record's first onset against the twins'.

    `n_twins` random mechanisms per event at `magnitudes[event_id]`, synthesized with the
    training set's wave settings (its random P factors per station, if any), its synthetic
    noise plus real noise at scale 1: from any window of the pool (`all`, `own`),
    or from the event's own pre-event window (`own_noise`, the event's stations), so the
    twin's stations stand as far above their noise as the real record's. Located as
    `predict` locates (STA/LTA with the model's trigger and the contrast check, answer after
    its answer time), with all stations (`all`) or the event's missing stations zeroed.
    Medians over the twins that triggered. Onsets (`first_onsets_s`, with the model's onset
    trigger, `onset_spec`) on the vertical of the real record and of the `own_noise` twins, in
    seconds after the origin: where the real onset comes sooner, the real station looks nearer
    to the network than any synthetic of that hypocentre.
    """
    meta = json.loads((sim / "dataset.json").read_text())
    config, network, _ = network_config(SimulateConfig(**meta["config"]))
    backend = TravelTimeBackend(network, wave_parameters(config), make_compute("synchronous", 1)[0])
    locator = TrainedLocator.load(run / "model")
    pool = NoisePool.load(sim)
    names = [str(s) for s in network.stations["station"]]
    dt, band = config.sampling_interval_s, preprocess_settings(config)
    trigger_spec = onset_spec(locator.spec)
    rng = np.random.default_rng(0)
    rows, onset_rows = [], []
    for event, real, vertical, origin_s in real_verticals(raw, config, names):
        present = real.present
        real_onsets = first_onsets_s(trigger_spec, vertical, origin_s)
        twin_onsets = []
        row = catalog[catalog["event_id"].astype(str) == event.event_id]
        x_km, y_km = network.projection.to_xy_km(row["latitude_deg"], row["longitude_deg"])
        hypocentre = (float(x_km[0]), float(y_km[0]), float(row["depth_km"].iloc[0]))
        events = twin_events(
            hypocentre, magnitudes[event.event_id], n_twins, config.source.isotropic_max, rng
        )
        waves = preprocess(backend.synthesize(events, event_rngs(0, 0, n_twins)), dt, band)
        window = np.flatnonzero(pool.windows["event_id"].astype(str) == event.event_id)
        own_pool = replace(
            pool, loops=pool.loops[window], present=pool.present[window], windows=None
        )
        found: dict[str, list[np.ndarray]] = {"all": [], "own": [], "own_noise": []}
        for wave in waves:
            noisy = wave + pool.draw(wave.shape[-1], (1.0, 1.0), rng)
            cases = [("all", noisy), ("own", noisy * present[:, None, None])]
            if window.size:  # no window in the pool when the record starts too close to the event
                quiet = wave + own_pool.draw(wave.shape[-1], (1.0, 1.0), rng)
                cases.append(("own_noise", quiet * present[:, None, None]))
                twin_onsets.append(first_onsets_s(trigger_spec, quiet[:, 0], TWIN_ORIGIN_S))
            for name, values in cases:
                try:
                    onset, _ = detect_event(values, dt, locator.trigger)
                except NoTriggerError:
                    continue
                answer = estimate_in_time(locator, values, onset, locator.trigger.answer_after_s)
                found[name].append(answer.answer[:2])
        result = {"event_id": event.event_id, "missing": int((~present).sum())}
        for name, answers in found.items():
            if not answers:
                result[f"twin_{name}_located"] = f"0/{n_twins}"
                continue
            lat, lon = np.array(answers).T
            east, north = east_north_km(lat, lon, row.loc[row.index.repeat(len(lat))])
            result |= {
                f"twin_{name}_located": f"{len(lat)}/{n_twins}",
                f"twin_{name}_epi_median_km": float(np.median(np.hypot(east, north))),
                f"twin_{name}_east_median_km": float(np.median(east)),
                f"twin_{name}_north_median_km": float(np.median(north)),
            }
        rows.append(result)
        twin_onsets_s = np.array(twin_onsets).reshape(-1, len(names))
        for station in np.flatnonzero(present):
            column = twin_onsets_s[:, station]
            found_twins = column[np.isfinite(column)]
            onset_rows.append(
                {
                    "event_id": event.event_id,
                    "station": names[station],
                    "east_km": float(network.stations["x_km"].iloc[station]),
                    "real_onset_s": real_onsets[station],
                    "twin_onset_median_s": np.median(found_twins) if found_twins.size else np.nan,
                    "twins_with_onset": f"{found_twins.size}/{len(column)}",
                }
            )
    onsets = pd.DataFrame(onset_rows)
    return pd.DataFrame(rows), onsets.assign(
        real_minus_twin_s=onsets["real_onset_s"] - onsets["twin_onset_median_s"]
    )


def _training_note(run: Path) -> str:
    config = json.loads((run / "config.json").read_text())
    window = config.get("max_window_s") if config["transform"] == "max" else config["rms_window_s"]
    return (
        f"{config['model_type']}: {config['transform']} inputs ({window} s), "
        f"{config['epochs']} epochs x "
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
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="training seeds per CNN (first: the model of the station terms and twins); with "
        "several, each seed alone and their ensemble (one --model per seed) are scored too",
    )
    parser.add_argument("--json", type=Path, help="also write both tables here")
    parser.add_argument(
        "--twins",
        type=int,
        default=0,
        help="synthetic twins per event and CNN at the catalog hypocentres (0: none)",
    )
    parser.add_argument(
        "--calibration-only", action="store_true", help="print the amplitude calibration only"
    )
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    raw = NEWBERRY / "raw_sac_subset"
    stations = newberry_stations(NEWBERRY / "staInfo_df.csv", work / "stations.csv")
    calibrated = calibration(stations)
    calibrated["phase_ratios"] = phase_ratios(stations).to_dict("records")
    if args.calibration_only:
        return
    sim = work / "sim"
    if not is_quakesense_dir(sim):
        _cli("locate", "simulate", "--stations", stations, "--velocity", COSO, "--noise-records",
             raw, "--noise-units", "velocity", "--out", sim, "--no-progress")  # fmt: skip
    catalog = read_catalog_from_headers(raw)
    errors = _no_skill(sim, stations, catalog)
    notes = []
    models = {}
    for method in args.methods:
        models[method] = [model_run(work, method, seed) for seed in args.seeds]
        for seed, run in zip(args.seeds, models[method], strict=True):
            if not is_quakesense_dir(run):
                train_yaml = work / f"train_seed{seed}.yaml"
                train_yaml.write_text(yaml.safe_dump({**TRAIN_CONFIG, "seed": seed}))
                _cli("locate", "train", "--data", sim, "--method", method, "--config",
                     train_yaml, "--epochs", args.epochs, "--out", run)  # fmt: skip
            notes.append(_training_note(run))
    predictions = {}
    for method, runs in models.items():
        predictions[method] = ["--method", method, "--model", runs[0]]
        for seed, run in zip(args.seeds[1:], runs[1:], strict=True):
            predictions[f"{method}, seed {seed}"] = ["--method", method, "--model", run]
        if len(runs) > 1:
            label = f"{method}, ensemble of seeds {' '.join(map(str, args.seeds))}"
            predictions[label] = ["--method", method, *[a for r in runs for a in ("--model", r)]]
    predictions["gridsearch"] = ["--method", "gridsearch", "--velocity", COSO]
    for method, options in predictions.items():
        out = work / ("predict_" + method.replace(", ", "_").replace(" ", "_"))
        if not (args.keep_predictions and is_quakesense_dir(out)):
            _cli("locate", "predict", "--waveforms", raw, "--stations", stations, *options,
                 "--units", "velocity", "--out", out, "--force")  # fmt: skip
        errors[method] = location_errors(pd.read_csv(out / "locations.csv"), catalog)
    for method in args.methods:
        errors[f"{method} + station terms (leave one out)"] = location_errors(
            leave_one_out(raw, work, stations, method, models[method][0]), catalog
        )
        out = work / f"predict_{method}_batch"
        _cli("locate", "predict", "--waveforms", raw, "--stations", stations, "--method", method,
             "--model", models[method][0], "--station-corrections", "batch", "--units",
             "velocity", "--out", out, "--force", "--no-progress")  # fmt: skip
        errors[f"{method} + station terms (batch)"] = location_errors(
            pd.read_csv(out / "locations.csv"), catalog
        )
    twin_tables, onset_tables = {}, {}
    if args.twins:
        magnitudes = pd.DataFrame(calibrated["per_event"]).set_index("event_id")["implied_mw"]
        magnitudes.index = magnitudes.index.astype(str)
        for method in args.methods:
            located = pd.read_csv(work / f"predict_{method}" / "locations.csv")
            located = catalog[["event_id"]].merge(
                located.assign(event_id=located["event_id"].astype(str)), how="left"
            )
            east, north = east_north_km(located["latitude_deg"], located["longitude_deg"], catalog)
            real = pd.DataFrame(
                {
                    "event_id": catalog["event_id"].astype(str),
                    "real_epi_km": np.hypot(east, north),
                    "real_east_km": east,
                    "real_north_km": north,
                }
            )
            located_twins, onset_tables[method] = twins(
                sim, models[method][0], raw, catalog, magnitudes, args.twins
            )
            twin_tables[method] = located_twins.merge(real, on="event_id", how="left")
    table = summary(errors, CENTROID)
    per_event = pd.concat(
        [frame.assign(method=method) for method, frame in errors.items()], ignore_index=True
    )
    splits = pd.read_parquet(sim / "events.parquet")["split"].value_counts().to_dict()
    meta = json.loads((sim / "dataset.json").read_text())
    print(f"data: 5 real Newberry events, catalog = SAC headers; training set {sim} {splits}")
    print(
        f"training set acquisition: {meta['acquisition']['values']}, mechanisms "
        f"{meta['config']['source']['mechanism']}, seed {meta['seed']}"
    )
    print(f"real noise: {meta['config']['real_noise']['records']}")
    print("\n".join(notes))
    print("MC-dropout: 20 passes (predict default); grid search: EDT pdf, 68 % ellipse")
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print(per_event.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        for method, frame in twin_tables.items():
            print(f"{method}: synthetic twins ({args.twins} per event, seed 0) against the real")
            print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
            onsets = onset_tables[method]
            print(f"{method}: first STA/LTA onsets (s after the origin), real minus twins' median")
            print(
                onsets.pivot(index="station", columns="event_id", values="real_minus_twin_s")
                .assign(east_km=onsets.groupby("station")["east_km"].first())
                .sort_values("east_km")
                .to_string(float_format=lambda v: f"{v:.2f}")
            )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "calibration": calibrated,
                    "summary": table.to_dict("records"),
                    "events": per_event.to_dict("records"),
                    "twins": {m: t.to_dict("records") for m, t in twin_tables.items()},
                    "onsets": {m: t.to_dict("records") for m, t in onset_tables.items()},
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
