"""Figures of a forecast run: probability maps with observed events, Molchan diagram, gains."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from quakesense.core.maps import lonlat_grid_map, unwrap_longitude
from quakesense.forecast.evaluation import molchan_curve
from quakesense.forecast.grid import GriddedEvents, GridSpec


def forecast_maps_figure(
    maps: dict[str, np.ndarray],
    spec: GridSpec,
    observed: GriddedEvents,
    title: str,
) -> plt.Figure:
    """One lon/lat panel per model: log10 probability per cell, coastline, observed events."""
    n = len(maps)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.2 * rows), squeeze=False)
    corner_lat, corner_lon = spec.cell_corners_latlon()
    event_lat, event_lon = spec.projection.to_latlon(observed.x_km, observed.y_km)
    event_lon = unwrap_longitude(event_lon, spec.centre_longitude_deg)
    for ax, (name, probability) in zip(axes.ravel(), maps.items(), strict=False):
        mesh = lonlat_grid_map(
            ax,
            corner_lat,
            corner_lon,
            np.log10(np.clip(probability, 1e-6, 1)),
            centre_longitude_deg=spec.centre_longitude_deg,
            cmap="magma",
            vmin=-5,
            vmax=0,
        )
        ax.scatter(
            event_lon, event_lat, s=25, facecolors="none", edgecolors="cyan", linewidths=1, zorder=4
        )
        ax.set_title(name, fontsize=9)
        fig.colorbar(mesh, ax=ax, shrink=0.8, label="log10 P")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def event_count_figure(counts: np.ndarray, spec: GridSpec, title: str) -> plt.Figure:
    """Lon/lat map of events per cell (log10(1 + count)) with the coastline."""
    fig, ax = plt.subplots(figsize=(6, 5))
    corner_lat, corner_lon = spec.cell_corners_latlon()
    mesh = lonlat_grid_map(
        ax,
        corner_lat,
        corner_lon,
        np.log10(counts + 1),
        centre_longitude_deg=spec.centre_longitude_deg,
    )
    fig.colorbar(mesh, ax=ax, label="log10(1 + events)")
    ax.set_title(title)
    return fig


def molchan_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> plt.Figure:
    """Molchan diagrams: name -> (probability, target) flattened over the mask."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (probability, target) in curves.items():
        tau, nu, ass = molchan_curve(probability, target)
        ax.plot(tau, nu, label=f"{name} (ASS {ass:.3f})")
    ax.plot([0, 1], [1, 0], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("fraction of space-time alarmed")
    ax.set_ylabel("miss rate")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def gain_figure(metrics: dict[str, Any], reference: str, title: str) -> plt.Figure:
    """Information gain per target earthquake of each model over `reference`, with intervals."""
    rows = [
        (name, entry["vs"][reference]["information_gain"])
        for name, entry in metrics.items()
        if isinstance(entry, dict) and reference in entry.get("vs", {})
    ]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 1.2))
    for k, (_, gain) in enumerate(rows):
        value = gain["value"] if gain["value"] is not None else np.nan
        low = gain["low"] if gain["low"] is not None else np.nan
        high = gain["high"] if gain["high"] is not None else np.nan
        ax.errorbar(value, k, xerr=[[value - low], [high - value]], fmt="o", capsize=3)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_xlabel(f"information gain per target earthquake vs {reference} (nats)")
    ax.set_title(title, fontsize=10)
    return fig
