"""Training and evaluation runs of the AE event classifier: scores, figures, HTML report.

`run_training` trains, saves and scores on a seeded random split; the saved model records the
events that informed its weights (training and validation parts), so `run_evaluation` scores
held-out events only and never retrains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats
from sklearn.metrics import roc_curve

from quakesense.aeclass.classify import (
    ClassifierConfig,
    ProfileData,
    baseline_models,
    save_classifier,
    train_classifier,
)
from quakesense.core.errors import InputError
from quakesense.core.metrics import bootstrap, multiclass_scores
from quakesense.core.persistence import SavedModel
from quakesense.core.report import (
    RunFolder,
    confusion_matrix_figure,
    loss_curve_figure,
    roc_figure,
)
from quakesense.core.store import write_table
from quakesense.core.training import Device, predict


def bootstrap_figure(values: np.ndarray, summary: dict[str, Any], title: str) -> plt.Figure:
    """Histogram of bootstrap accuracies with a fitted normal density, mean and interval."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values, bins=20, density=True, color="#9ecae1", edgecolor="white")
    mu, sigma = stats.norm.fit(values)
    grid = np.linspace(values.min(), values.max(), 200)
    if sigma > 0:
        ax.plot(grid, stats.norm.pdf(grid, mu, sigma), color="black", label="normal fit")
    ax.axvline(summary["mean"], color="red", linestyle="--", label=f"mean {summary['mean']:.3f}")
    for edge in (summary["low"], summary["high"]):
        ax.axvline(edge, color="green", linestyle="--")
    ax.set_xlabel("accuracy")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def tsne_figure(features: np.ndarray, labels: np.ndarray, classes: list[str], seed: int):
    """t-SNE map of the profiles coloured by class."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(features) - 1) / 3)
    embedded = TSNE(
        2, perplexity=perplexity, init="pca", max_iter=500, random_state=seed
    ).fit_transform(features)
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, name in enumerate(classes):
        chosen = labels == k
        ax.scatter(embedded[chosen, 0], embedded[chosen, 1], s=8, label=name)
    ax.set_title("t-SNE of arrival-time profiles")
    ax.legend(fontsize=8, markerscale=2)
    return fig


def mean_output_figure(
    labels: np.ndarray, proba: np.ndarray, classes: list[str], title: str
) -> plt.Figure:
    """Mean network output per true class (paper, Fig. 6): row k is the average softmax vector
    of the events of class k, so off-diagonal mass shows which classes the network mixes."""
    mean = np.array(
        [
            proba[labels == k].mean(axis=0)
            if (labels == k).any()
            else np.full(len(classes), np.nan)
            for k in range(len(classes))
        ]
    )
    return probability_matrix_figure(mean, classes, classes, title, "true class")


def probability_matrix_figure(
    matrix: np.ndarray, rows: list[str], columns: list[str], title: str, row_label: str
) -> plt.Figure:
    """Heat map of mean probabilities (rows: groups of events; columns: outputs), annotated."""
    fig, ax = plt.subplots(figsize=(1.5 + 0.8 * len(columns), 1.2 + 0.6 * len(rows)))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues", aspect="auto")
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value > 0.6 else "black",
            )
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("mean output for")
    ax.set_ylabel(row_label)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _roc_curves(
    labels: np.ndarray, proba: np.ndarray, classes: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    from sklearn.metrics import auc

    curves = {}
    for k, name in enumerate(classes):
        positives = labels == k
        if 0 < positives.sum() < positives.size:
            fpr, tpr, _ = roc_curve(positives, proba[:, k])
            curves[name] = (fpr, tpr, float(auc(fpr, tpr)))
    return curves


def score_figures(
    run: RunFolder,
    labels: np.ndarray,
    proba: np.ndarray,
    classes: list[str],
    subsets: dict[str, np.ndarray],
    *,
    scored: str,
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """Confusion matrices per subset, ROC and bootstrap on `scored`; returns the scores."""
    metrics: dict[str, Any] = {}
    run.heading("Confusion matrices (rows: true class; counts and row percentages)")
    for name, index in subsets.items():
        scores = multiclass_scores(labels[index], proba[index], classes)
        metrics[name] = scores
        run.figure(
            confusion_matrix_figure(
                scores["confusion_matrix"], classes, f"{name} ({len(index)} events)"
            ),
            f"confusion_{name}",
        )
    index = subsets[scored]
    run.heading(f"Mean network output per class ({scored} events; paper, Fig. 6)")
    run.figure(
        mean_output_figure(labels[index], proba[index], classes, f"{scored} events"),
        f"mean_output_{scored}",
        "Row k: average softmax output over the events of true class k.",
    )
    run.heading(f"One-vs-rest ROC ({scored} events)")
    run.figure(
        roc_figure(_roc_curves(labels[index], proba[index], classes), f"ROC, {scored}"),
        f"roc_{scored}",
    )
    correct = (proba[index].argmax(1) == labels[index]).astype(float)
    summary, values = bootstrap(
        lambda sample: float(correct[sample].mean()), len(index), n_resamples=n_bootstrap, seed=seed
    )
    metrics["bootstrap_accuracy"] = summary.to_dict()
    run.heading(f"Bootstrap of the {scored} accuracy ({n_bootstrap} resamples)")
    run.figure(
        bootstrap_figure(values, summary.to_dict(), f"{scored} accuracy"), f"bootstrap_{scored}"
    )
    return metrics


def run_training(
    data: ProfileData,
    config: ClassifierConfig,
    out_dir: Path,
    *,
    force: bool = False,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Train, save and evaluate the classifier and its baselines in a new run folder.

    The folder is built aside and moved to `out_dir` only when everything succeeded.

    Returns:
        The run's report.html.
    """
    assert data.labels is not None and data.classes is not None
    with RunFolder.create(
        out_dir, "AE event classification from arrival-time profiles", force=force
    ) as run:
        run.save_config(config, **(meta or {}))
        return _train_into(run, data, config)


def _train_into(run: RunFolder, data: ProfileData, config: ClassifierConfig) -> Path:
    assert data.labels is not None and data.classes is not None
    trained = train_classifier(data, config)
    save_classifier(run.path / "model", trained, data, config)
    proba = trained.predict_proba(data.features)
    split = trained.split
    run.text(
        f"{len(data.labels)} events, {len(data.classes)} classes, {data.features.shape[1]} inputs; "
        f"random split train/val/test = {[len(split[k]) for k in ('train', 'val', 'test')]} "
        f"(seed {config.seed}); network hidden={config.hidden_units} {config.activation}, "
        f"best epoch {trained.fit_result.best_epoch} of {trained.fit_result.epochs_run}."
    )
    run.figure(loss_curve_figure(trained.fit_result.history, "cross-entropy"), "loss")
    subsets = {**split, "all": np.arange(len(data.labels))}
    metrics = score_figures(
        run,
        data.labels,
        proba,
        data.classes,
        subsets,
        scored="test",
        n_bootstrap=config.n_bootstrap,
        seed=config.seed,
    )
    metrics["split_sizes"] = {k: len(v) for k, v in split.items()}
    metrics["seed"] = config.seed
    metrics["baselines"] = _baselines(data, split, config)
    rows = [{"model": "network", "test_accuracy": metrics["test"]["accuracy"]}]
    rows += [{"model": k, "test_accuracy": v["accuracy"]} for k, v in metrics["baselines"].items()]
    run.table(pd.DataFrame(rows), caption=f"Test accuracy (same split, seed {config.seed})")
    if config.tsne:
        run.heading("t-SNE map")
        run.figure(tsne_figure(data.features, data.labels, data.classes, config.seed), "tsne")
    run.save_metrics(metrics)
    return run.write_report()


def _baselines(
    data: ProfileData, split: dict[str, np.ndarray], config: ClassifierConfig
) -> dict[str, Any]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert data.labels is not None and data.classes is not None
    train = np.concatenate([split["train"], split["val"]])
    results = {}
    for name, model in baseline_models(config.baselines, config.seed).items():
        pipeline = make_pipeline(StandardScaler(), model).fit(
            data.features[train], data.labels[train]
        )
        proba = np.zeros((len(split["test"]), len(data.classes)))
        proba[:, pipeline.classes_] = pipeline.predict_proba(data.features[split["test"]])
        scores = multiclass_scores(data.labels[split["test"]], proba, data.classes)
        results[name] = {k: scores[k] for k in ("accuracy", "f1_macro", "roc_auc_ovr")}
    return results


class EvaluateConfig(BaseModel):
    """Settings of `aeclass evaluate`; saved as the run's config.json and read back by --config."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="bootstrap seed")
    include_training: bool = Field(
        False, description="also score events the model was trained on (labelled as such)"
    )
    device: Device = Field("auto", description="where the network predicts: auto|cpu|cuda")


def run_evaluation(
    saved: SavedModel,
    data: ProfileData,
    out_dir: Path,
    config: EvaluateConfig | None = None,
    *,
    force: bool = False,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Score a saved classifier on labelled held-out events; never retrains.

    Events the model was trained or early-stopped on (recorded in the model as `trained_on`)
    are left out of the score, unless `include_training`, in which case they are scored too,
    separately, and the report and console say so. A model that does not record its training
    events can only be scored with `include_training`.

    Returns:
        The run's report.html (with predictions.csv and metrics.json beside it; its
        `warning`, present when training events were scored, is for the console too).
    """
    assert data.labels is not None and data.classes is not None
    config = config or EvaluateConfig()
    seed, include_training = config.seed, config.include_training
    recorded = saved.extra.get("trained_on")
    seen = np.isin(data.event_ids, recorded or [])
    if recorded is None and not include_training:
        raise InputError(
            "this model does not record which events it was trained on, so held-out events "
            "cannot be told apart; retrain it, or pass --include-training to score anyway",
            field="--model",
        )
    if seen.all() and not include_training:
        raise InputError(
            f"all {len(seen)} events were used to train this model (training or validation "
            "part); give held-out events, or pass --include-training to score training data",
            field="--picks",
        )
    logits = predict(
        saved.module, saved.normalisation["inputs"].apply(data.features), device=config.device
    )
    proba = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    held_out = np.flatnonzero(~seen)
    subsets = {"held_out": held_out} if len(held_out) else {}
    if include_training:
        subsets["all (includes training events)" if seen.any() else "all"] = np.arange(len(seen))
        if recorded is None:
            message = (
                "WARNING: the model does not record its training events; scores may include them"
            )
        else:
            message = f"WARNING: {int(seen.sum())} of {len(seen)} events were training data"
    with RunFolder.create(
        out_dir, "AE event classification: evaluation of a saved model", force=force
    ) as run:
        run.save_config(config, trained_model=saved.extra, **(meta or {}))
        run.text(
            f"{len(seen)} labelled events; {len(held_out)} held out from training are scored"
            + (
                f"; {int(seen.sum())} training/validation events left out of the score."
                if not include_training
                else f". {message}."
            )
            + " The saved network is applied as it is (no retraining)."
        )
        scored = "held_out" if len(held_out) else next(iter(subsets))
        metrics = score_figures(
            run,
            data.labels,
            proba,
            data.classes,
            subsets,
            scored=scored,
            n_bootstrap=int(saved.extra.get("run_config", {}).get("n_bootstrap", 300)),
            seed=seed,
        )
        metrics["n_training_events_given"] = int(seen.sum())
        if include_training:
            metrics["warning"] = message
        metrics["scored"] = scored
        predictions = pd.DataFrame(
            {
                "event_id": data.event_ids,
                "label": [data.classes[k] for k in data.labels],
                "predicted": [data.classes[k] for k in proba.argmax(1)],
                "training_event": seen,
                **{f"p_{name}": proba[:, k] for k, name in enumerate(data.classes)},
            }
        )
        write_table(predictions, run.path / "predictions.csv")
        run.save_metrics(metrics)
        return run.write_report()
