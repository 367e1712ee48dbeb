"""Unsupervised grouping of AE events by their arrival-time profiles (`aeclass cluster`).

Real hydraulic-fracturing campaigns rarely come with labels. Events from one source region
share an arrival-time profile, so clustering the profiles (the classifier's inputs, with the
same imputation and mask channel) finds the source regions without labels: a Gaussian mixture
(number of components by BIC, or given) or HDBSCAN (density-based, leaves outliers as noise).
Labels, when given, are used only to score the clusters (adjusted Rand index), never to fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.aeclass.classify import profile_data
from quakesense.aeclass.training import probability_matrix_figure, tsne_figure
from quakesense.core.report import RunFolder
from quakesense.core.store import write_table

NOISE = -1
"""Cluster number HDBSCAN gives events it leaves unassigned."""


class ClusterConfig(BaseModel):
    """Settings of `aeclass cluster`; saved with every run and read back by `--config`."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["gmm", "hdbscan"] = "gmm"
    n_clusters: int | None = Field(None, ge=2, description="gmm components; None: by BIC")
    max_clusters: int = Field(10, ge=2, description="largest gmm size tried by BIC")
    covariance_type: Literal["full", "diag"] = "full"
    min_cluster_size: int = Field(15, ge=2, description="hdbscan smallest cluster")
    mask_channel: bool = Field(True, description="append 0/1 imputed-pick flags to the profile")
    tsne: bool = True
    seed: int = 0


def cluster_profiles(features: np.ndarray, config: ClusterConfig) -> dict[str, Any]:
    """Cluster standardised profile features.

    Returns:
        `labels` (events,), `probability` (events,) of the assigned cluster, `posterior`
        (events, clusters) for gmm (None for hdbscan) and `bic` (size -> BIC) for gmm by BIC.
    """
    from sklearn.preprocessing import StandardScaler

    x = StandardScaler().fit_transform(features)
    if config.method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        model = HDBSCAN(min_cluster_size=config.min_cluster_size, copy=True).fit(x)
        return {
            "labels": model.labels_,
            "probability": model.probabilities_,
            "posterior": None,
            "bic": {},
        }
    from sklearn.mixture import GaussianMixture

    def mixture(k: int) -> GaussianMixture:
        return GaussianMixture(
            k, covariance_type=config.covariance_type, n_init=2, random_state=config.seed
        ).fit(x)

    bic: dict[int, float] = {}
    if config.n_clusters is None:
        sizes = range(2, min(config.max_clusters, len(x) - 1) + 1)
        fitted = {k: mixture(k) for k in sizes}
        bic = {k: float(m.bic(x)) for k, m in fitted.items()}
        model = fitted[min(bic, key=bic.get)]
    else:
        model = mixture(config.n_clusters)
    posterior = model.predict_proba(x)
    labels = posterior.argmax(axis=1)
    return {
        "labels": labels,
        "probability": posterior[np.arange(len(x)), labels],
        "posterior": posterior,
        "bic": bic,
    }


def run_clustering(
    picks: pd.DataFrame,
    sensors: list[str],
    config: ClusterConfig,
    out: Path,
    *,
    labels: pd.DataFrame | None = None,
    labels_source: str | Path | None = None,
    force: bool = False,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cluster the events of `picks` and write a run folder: clusters.csv, metrics.json,
    config.json and report.html (t-SNE map, cluster sizes, per-cluster mean output)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    data = profile_data(
        picks,
        sensors,
        mask_channel=config.mask_channel,
        labels=labels,
        labels_source=labels_source,
    )
    found = cluster_profiles(data.features, config)
    assigned = found["labels"]
    clusters = sorted(int(k) for k in set(assigned) - {NOISE})
    names = [f"K{k + 1}" for k in clusters]
    metrics: dict[str, Any] = {
        "method": config.method,
        "n_events": len(assigned),
        "n_clusters": len(clusters),
        "n_noise": int((assigned == NOISE).sum()),
        "sizes": {
            name: int((assigned == k).sum()) for name, k in zip(names, clusters, strict=True)
        },
        "seed": config.seed,
    }
    if found["bic"]:
        metrics["bic"] = found["bic"]
    table = pd.DataFrame(
        {
            "event_id": data.event_ids,
            "cluster": [f"K{k + 1}" if k != NOISE else "noise" for k in assigned],
            "probability": found["probability"],
        }
    )
    with RunFolder.create(out, f"AE event clusters ({config.method})", force=force) as run:
        run.save_config(config, **(meta or {}))
        run.text(
            f"{len(assigned)} events, {data.features.shape[1]} profile inputs; {config.method} "
            f"found {len(clusters)} clusters"
            + (f" ({metrics['n_noise']} events left as noise)" if metrics["n_noise"] else "")
            + (f", size chosen by BIC over 2-{max(found['bic'])}" if found["bic"] else "")
            + f"; seed {config.seed}."
        )
        if found["posterior"] is not None:
            mean = np.array([found["posterior"][assigned == k].mean(axis=0) for k in clusters])
            run.figure(
                probability_matrix_figure(mean, names, names, "mean mixture output", "cluster"),
                "mean_output_cluster",
                "Row k: average posterior probability over the events assigned to cluster k "
                "(the unsupervised counterpart of the paper's Fig. 6); off-diagonal mass shows "
                "clusters that overlap.",
            )
        if data.labels is not None and data.classes is not None:
            scored = assigned != NOISE
            metrics["adjusted_rand"] = float(
                adjusted_rand_score(data.labels[scored], assigned[scored])
            )
            metrics["normalized_mutual_info"] = float(
                normalized_mutual_info_score(data.labels[scored], assigned[scored])
            )
            share = pd.crosstab(
                pd.Categorical([data.classes[k] for k in data.labels[scored]], data.classes),
                pd.Categorical(table["cluster"][scored], names),
                normalize="index",
                dropna=False,
            )
            run.figure(
                probability_matrix_figure(
                    share.to_numpy(), data.classes, names, "share of each class", "true class"
                ),
                "class_vs_cluster",
                f"Row: a labelled class; columns: share of its events in each cluster. Adjusted "
                f"Rand index {metrics['adjusted_rand']:.3f} (labels used only for this score).",
            )
        if config.tsne:
            shown = np.where(assigned == NOISE, len(clusters), np.searchsorted(clusters, assigned))
            run.figure(
                tsne_figure(data.features, shown, [*names, "noise"], config.seed),
                "tsne_clusters",
                "t-SNE map of the arrival-time profiles, coloured by cluster.",
            )
        if found["bic"]:
            run.table(
                pd.DataFrame({"clusters": list(found["bic"]), "BIC": list(found["bic"].values())}),
                caption="Bayesian information criterion by mixture size (lowest chosen)",
            )
        run.table(
            pd.DataFrame({"cluster": list(metrics["sizes"]), "events": metrics["sizes"].values()}),
            caption="Cluster sizes",
        )
        write_table(table, run.path / "clusters.csv")
        run.save_metrics(metrics)
        run.write_report()
    return metrics
