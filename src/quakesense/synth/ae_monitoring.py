"""Seeded simulator of an 8-sensor rock-AE station in a granite tunnel, with an earthquake catalog.

The embedded default of the precursor pipeline, modelled on the Shantou tunnel station of seed
paper 000 (23.41 N, 116.63 E; ~35 days; target events at 100-200 km). Hits arrive as a
non-homogeneous Poisson process whose rate is the sum of: background AE with a daily cycle, noise
bursts (low frequency, low amplitude), a precursory rise before each target event (rate,
amplitude and frequency grow over `precursor_lead_h` hours, b-value drops) and co-seismic
bursts decaying after every target event. Amplitudes follow a Gutenberg-Richter law in dB_AE/20.
Every knob is a field of `AEMonitoringConfig`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from quakesense.core.geo import haversine_km
from quakesense.core.tables import AE_HITS, CATALOG


class AEMonitoringConfig(BaseModel):
    """Every setting of the AE monitoring simulator."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    start_time: str = "2024-03-01T00:00:00Z"
    duration_days: float = Field(35.0, gt=1)
    n_sensors: int = Field(8, ge=1)
    station_lat_deg: float = 23.41
    station_lon_deg: float = 116.63
    bin_s: float = Field(60.0, gt=0, description="time step of the rate model")
    background_rate_per_hour: float = Field(30.0, gt=0)
    daily_cycle: float = Field(
        0.25, ge=0, lt=1, description="relative amplitude of daily rate cycle"
    )
    threshold_db: float = Field(34.0, description="acquisition threshold, dB_AE")
    background_b_value: float = Field(1.2, gt=0)
    background_frequency_hz: float = Field(80e3, gt=0)
    noise_bursts_per_day: float = Field(1.5, ge=0)
    noise_burst_min: tuple[float, float] = (10.0, 40.0)
    noise_rate_factor: float = Field(6.0, ge=0)
    noise_frequency_hz: float = Field(25e3, gt=0)
    target_fractions: tuple[float, ...] = Field(
        (0.25, 0.5, 0.72, 0.9), description="rough place of each target event in the record"
    )
    target_jitter: float = Field(0.04, ge=0, description="uniform jitter of those fractions")
    target_magnitude: tuple[float, float] = (2.4, 3.4)
    target_distance_km: tuple[float, float] = (100.0, 200.0)
    n_other_events: int = Field(20, ge=0)
    other_magnitude: tuple[float, float] = (0.5, 2.2)
    other_distance_km: tuple[float, float] = (20.0, 400.0)
    precursor_lead_h: tuple[float, float] = (13.0, 17.0)
    precursor_rate_factor: float = Field(5.0, ge=0, description="extra rate at the event, x bg")
    precursor_db_gain: float = Field(6.0, description="mean amplitude increase at the event, dB")
    precursor_frequency_gain: float = Field(0.5, ge=0, description="relative frequency increase")
    precursor_b_value: float = Field(0.7, gt=0, description="b-value of precursory hits")
    coseismic_rate_factor: float = Field(12.0, ge=0)
    coseismic_decay_h: float = Field(1.5, gt=0)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], n)


def _offset(lat: float, lon: float, distance_km: np.ndarray, rng: np.random.Generator) -> tuple:
    azimuth = rng.uniform(0, 2 * np.pi, distance_km.size)
    dlat = distance_km * np.cos(azimuth) / 111.195
    dlon = distance_km * np.sin(azimuth) / (111.195 * np.cos(np.radians(lat)))
    return lat + dlat, lon + dlon


def simulate_catalog(config: AEMonitoringConfig) -> pd.DataFrame:
    """The earthquake catalog: target events (which have precursors) and other events."""
    rng = np.random.default_rng([config.seed, 1])
    start = pd.Timestamp(config.start_time)
    duration_s = config.duration_days * 86400.0
    n_target = len(config.target_fractions)
    fractions = np.clip(
        np.asarray(config.target_fractions)
        + rng.uniform(-config.target_jitter, config.target_jitter, n_target),
        0.02,
        0.98,
    )
    times = np.concatenate(
        (fractions * duration_s, rng.uniform(0, duration_s, config.n_other_events))
    )
    magnitudes = np.concatenate(
        (
            _uniform(rng, config.target_magnitude, n_target),
            _uniform(rng, config.other_magnitude, config.n_other_events),
        )
    )
    distances = np.concatenate(
        (
            _uniform(rng, config.target_distance_km, n_target),
            _uniform(rng, config.other_distance_km, config.n_other_events),
        )
    )
    lat, lon = _offset(config.station_lat_deg, config.station_lon_deg, distances, rng)
    catalog = pd.DataFrame(
        {
            "time": start + pd.to_timedelta(np.round(times, 3), unit="s"),
            "latitude_deg": lat,
            "longitude_deg": lon,
            "depth_km": _uniform(rng, (5.0, 15.0), times.size),
            "magnitude": np.round(magnitudes, 1),
            "magnitude_type": "ML",
            "event_id": [f"T{i}" for i in range(n_target)]
            + [f"E{i}" for i in range(config.n_other_events)],
        }
    )
    return CATALOG.validate(catalog, sort=True)


def _target_times_s(config: AEMonitoringConfig, catalog: pd.DataFrame) -> np.ndarray:
    start = pd.Timestamp(config.start_time)
    targets = catalog[catalog["event_id"].str.startswith("T")]
    return np.sort((targets["time"] - start).dt.total_seconds().to_numpy())


def simulate_hits(
    config: AEMonitoringConfig, catalog: pd.DataFrame, *, progress: bool = False
) -> pd.DataFrame:
    """AE hits of the station (an `AE_HITS` table plus avg_frequency_hz), time_s since start;
    with `progress`, a bar on stderr over the hit sources (background, noise, ...)."""
    rng = np.random.default_rng([config.seed, 2])
    edges = np.arange(0.0, config.duration_days * 86400.0 + config.bin_s, config.bin_s)
    centre = 0.5 * (edges[1:] + edges[:-1])
    background = config.background_rate_per_hour * (
        1 + config.daily_cycle * np.sin(2 * np.pi * centre / 86400.0)
    )
    noise = np.zeros_like(centre)
    n_bursts = rng.poisson(config.noise_bursts_per_day * config.duration_days)
    for t0, length_min in zip(
        rng.uniform(0, edges[-1], n_bursts),
        _uniform(rng, config.noise_burst_min, n_bursts),
        strict=True,
    ):
        noise += (centre >= t0) & (centre < t0 + 60 * length_min)
    noise *= config.noise_rate_factor * config.background_rate_per_hour
    ramp = np.zeros_like(centre)  # 0..1 precursor intensity
    coseismic = np.zeros_like(centre)
    for event_s in _target_times_s(config, catalog):
        lead_s = 3600.0 * rng.uniform(*config.precursor_lead_h)
        inside = (centre >= event_s - lead_s) & (centre < event_s)
        lead_fraction = np.clip((centre - event_s + lead_s) / lead_s, 0.0, 1.0)
        ramp = np.maximum(ramp, np.where(inside, lead_fraction**1.5, 0.0))
        after = centre >= event_s
        coseismic += np.where(
            after, np.exp(-(centre - event_s) / (3600.0 * config.coseismic_decay_h)), 0
        )
    rates = {
        "background": background,
        "noise": noise,
        "precursor": config.precursor_rate_factor * config.background_rate_per_hour * ramp,
        "coseismic": config.coseismic_rate_factor * config.background_rate_per_hour * coseismic,
    }
    parts = []
    for kind, rate_per_hour in tqdm(
        rates.items(), desc="simulate hits", unit="source", disable=not progress
    ):
        counts = rng.poisson(rate_per_hour * config.bin_s / 3600.0)
        bins = np.repeat(np.arange(centre.size), counts)
        times = edges[bins] + rng.uniform(0, config.bin_s, bins.size)
        parts.append(_hit_features(config, kind, times, ramp[bins], rng))
    hits = pd.concat(parts, ignore_index=True)
    return AE_HITS.validate(hits, sort=True)


def _hit_features(
    config: AEMonitoringConfig,
    kind: str,
    times: np.ndarray,
    ramp: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n = times.size
    b_value = np.full(n, config.background_b_value)
    frequency = np.full(n, config.background_frequency_hz)
    gain_db = np.zeros(n)
    if kind == "precursor":
        b_value = config.precursor_b_value + (
            config.background_b_value - config.precursor_b_value
        ) * (1 - ramp)
        frequency = frequency * (1 + config.precursor_frequency_gain * ramp)
        gain_db = config.precursor_db_gain * ramp
    elif kind == "noise":
        frequency = np.full(n, config.noise_frequency_hz)
    elif kind == "coseismic":
        b_value = np.full(n, 0.9)
    # Gutenberg-Richter in magnitude units m = dB/20 above the threshold
    excess_m = rng.exponential(1.0 / (b_value * np.log(10.0)))
    amplitude_db = config.threshold_db + 20.0 * excess_m + rng.exponential(1.0, n) * gain_db / 3
    amplitude_v = 1e-6 * 10 ** (amplitude_db / 20.0)
    frequency = frequency * rng.lognormal(0.0, 0.25, n)
    duration_s = 1e-4 * (1 + (amplitude_db - config.threshold_db) / 6) * rng.lognormal(0, 0.3, n)
    counts = np.maximum(1.0, np.round(frequency * duration_s))
    rise_s = duration_s * rng.uniform(0.05, 0.4, n)
    energy_eu = 0.5 * amplitude_v**2 * duration_s * rng.lognormal(0, 0.2, n) / 1e-14
    return pd.DataFrame(
        {
            "time_s": times,
            "channel": rng.integers(1, config.n_sensors + 1, n),
            "amplitude_v": amplitude_v,
            "amplitude_db": amplitude_db,
            "duration_s": duration_s,
            "rise_time_s": rise_s,
            "counts": counts,
            "energy_eu": energy_eu,
            "rms_v": amplitude_v / np.sqrt(2) * 0.3,
            "threshold_v": 1e-6 * 10 ** (config.threshold_db / 20.0),
            "avg_frequency_hz": counts / duration_s,
        }
    )


def simulate(
    config: AEMonitoringConfig | None = None, *, progress: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hits and catalog of one simulated monitoring campaign (`progress`: a bar on stderr)."""
    config = config or AEMonitoringConfig()
    catalog = simulate_catalog(config)
    return simulate_hits(config, catalog, progress=progress), catalog


def target_distance_km(config: AEMonitoringConfig, catalog: pd.DataFrame) -> np.ndarray:
    """Epicentral distance of every catalog event from the station."""
    return haversine_km(
        config.station_lat_deg,
        config.station_lon_deg,
        catalog["latitude_deg"].to_numpy(),
        catalog["longitude_deg"].to_numpy(),
    )
