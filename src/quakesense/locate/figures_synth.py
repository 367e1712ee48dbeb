"""Figures of a synthetic training set, after the papers' Figs 1-3, and its report.html.

Fig 1: station map over the model with the training hypocentres; Fig 2: velocity-model slices;
Fig 3: a sequence of surface snapshots of one event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from quakesense.core.report import RunFolder
from quakesense.locate.dataset import open_dataset
from quakesense.locate.velocity import GridModel


def station_map_figure(
    model: GridModel, stations: pd.DataFrame, events: pd.DataFrame
) -> plt.Figure:
    """Stations (triangles) and hypocentres (coloured by split) over P velocity at 3 km depth."""
    depth_index = int(np.argmin(np.abs(model.z_km - 3.0)))
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    mesh = ax.pcolormesh(
        model.x_km, model.y_km, model.vp_km_s[:, :, depth_index].T, cmap="RdYlBu", shading="auto"
    )
    fig.colorbar(mesh, ax=ax, label=f"Vp at z = {model.z_km[depth_index]:.1f} km (km/s)")
    colours = {"train": "0.3", "val": "tab:orange", "test": "tab:red", "holdout": "tab:purple"}
    for split, part in events.groupby("split"):
        ax.scatter(
            part["x_km"], part["y_km"], s=6, c=colours.get(split, "k"), label=f"{split} events"
        )
    ax.scatter(
        stations["x_km"],
        stations["y_km"],
        marker="^",
        s=70,
        c="w",
        edgecolors="k",
        label="stations",
    )
    for _, row in stations.iterrows():
        ax.annotate(
            row["station"],
            (row["x_km"], row["y_km"]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set(
        xlabel="x east (km)",
        ylabel="y north (km)",
        aspect="equal",
        title="Network, training hypocentres and model (cf. paper Fig. 1)",
    )
    ax.legend(fontsize=7, loc="lower right")
    return fig


def velocity_slices_figure(model: GridModel) -> plt.Figure:
    """Vp and Vs: a depth slice and two vertical sections through the model centre."""
    ix, iy = len(model.x_km) // 2, len(model.y_km) // 2
    iz = int(np.argmin(np.abs(model.z_km - 3.0)))
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for row, (name, values) in enumerate((("Vp", model.vp_km_s), ("Vs", model.vs_km_s))):
        panels = (
            (
                model.x_km,
                model.y_km,
                values[:, :, iz].T,
                "x (km)",
                "y (km)",
                f"{name} at z = {model.z_km[iz]:.1f} km",
            ),
            (
                model.x_km,
                model.z_km,
                values[:, iy, :].T,
                "x (km)",
                "z (km)",
                f"{name}, section y = {model.y_km[iy]:.1f} km",
            ),
            (
                model.y_km,
                model.z_km,
                values[ix, :, :].T,
                "y (km)",
                "z (km)",
                f"{name}, section x = {model.x_km[ix]:.1f} km",
            ),
        )
        for ax, (h, v, data, xlabel, ylabel, title) in zip(axes[row], panels, strict=True):
            mesh = ax.pcolormesh(h, v, data, cmap="RdYlBu", shading="auto")
            fig.colorbar(mesh, ax=ax, label="km/s")
            ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
            if ylabel.startswith("z"):
                ax.invert_yaxis()
    fig.suptitle("Velocity model slices (cf. paper Fig. 2)")
    fig.tight_layout()
    return fig


def snapshot_sequence_figure(
    images: np.ndarray, event: pd.Series, box: dict[str, float], interval_s: float
) -> plt.Figure:
    """Eight vertical-velocity snapshots of one event, 1 s apart from its origin time."""
    start = round(float(event["origin_time_s"]) / interval_s)
    frames = [min(start + k * round(1.0 / interval_s), len(images) - 1) for k in range(8)]
    limit = float(np.abs(images[frames]).max()) or 1.0
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.2))
    extent = (box["x_min_km"], box["x_max_km"], box["y_min_km"], box["y_max_km"])
    for ax, frame in zip(axes.ravel(), frames, strict=True):
        shown = ax.imshow(
            images[frame], origin="lower", extent=extent, cmap="seismic", vmin=-limit, vmax=limit
        )
        ax.plot(event["x_km"], event["y_km"], "k*", ms=9)
        ax.set_title(f"t = {frame * interval_s:.1f} s", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes, label="vertical velocity (m/s)", shrink=0.8)
    fig.suptitle(
        f"Surface snapshots of {event['event_id']}: Mw {event['magnitude']:.1f}, "
        f"depth {event['depth_km']:.1f} km (star: epicentre; cf. paper Fig. 3)"
    )
    return fig


def add_figures(
    folder: Path,
    config: Any,
    network: Any,
    events: pd.DataFrame,
    summary: dict[str, Any],
) -> Path:
    """Write config.json, metrics.json, the three figures and report.html into `folder`."""
    data = open_dataset(folder)
    meta = data.meta
    run = RunFolder(folder, "quakesense locate simulate: synthetic training set")
    run.save_config(config)
    run.save_metrics(summary)
    run.text(
        f"Backend {config.backend}; {len(events)} events x {config.n_samples} samples at "
        f"{config.sampling_interval_s} s; {len(network.stations)} stations; seed {config.seed}. "
        f"Inputs: {network.origin}. Datum: {meta['datum']}. Closest val/test/holdout "
        f"hypocentre to a training one (km): {meta['nearest_training_hypocentre_km']}."
    )
    noise = meta.get("real_noise")
    if noise:
        run.text(
            f"Real pre-event noise for training: {noise['n_windows']} windows of "
            f"{noise['loop_s']} s from {', '.join(map(str, config.real_noise.records))} (ended "
            f"{config.real_noise.margin_s} s before the catalog origin or first P pick, through "
            f"this dataset's preprocessing), median vertical RMS "
            f"{noise['vertical_rms_m_s_median']:.3g} m/s; stations without noise of their own: "
            f"{', '.join(noise['stations_without_noise']) or 'none'}. Stored in "
            f"{noise['file']}; training adds it per station at a random scale (train config "
            "real_noise_scale)."
        )
    if config.figures:
        run.figure(station_map_figure(network.model, network.stations, events), "station_map")
        run.figure(velocity_slices_figure(network.model), "velocity_slices")
        strongest = int(events["magnitude"].to_numpy().argmax())
        run.figure(
            snapshot_sequence_figure(
                np.asarray(data.images[strongest]),
                events.iloc[strongest],
                meta["image"],
                config.sampling_interval_s,
            ),
            "snapshots",
        )
    run.heading("Summary")
    run.table(pd.DataFrame([summary]), caption="run summary")
    run.table(
        events["split"].value_counts().rename_axis("split").reset_index(name="events"),
        caption="events per split (split by event)",
    )
    return run.write_report()
