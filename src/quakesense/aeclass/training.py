"""Scores, figures and the HTML report of the AE event classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.metrics import roc_curve

from quakesense.aeclass.classify import (
    ClassifierConfig,
    ProfileData,
    baseline_models,
    save_classifier,
    train_classifier,
)
from quakesense.core.metrics import bootstrap, multiclass_scores
from quakesense.core.models import SavedModel
from quakesense.core.report import (
    RunFolder,
    confusion_matrix_figure,
    loss_curve_figure,
    roc_figure,
)
from quakesense.core.store import write_table
from quakesense.core.training import predict


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

    embedded = TSNE(2, perplexity=30, init="pca", max_iter=500, random_state=seed).fit_transform(
        features
    )
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, name in enumerate(classes):
        chosen = labels == k
        ax.scatter(embedded[chosen, 0], embedded[chosen, 1], s=8, label=name)
    ax.set_title("t-SNE of arrival-time profiles")
    ax.legend(fontsize=8, markerscale=2)
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


def run_training(data: ProfileData, config: ClassifierConfig, out_dir: Path) -> Path:
    """Train, save and evaluate the classifier and its baselines; return report.html."""
    assert data.labels is not None and data.classes is not None
    run = RunFolder(out_dir, "AE event classification from arrival-time profiles")
    run.save_config(config)
    trained = train_classifier(data, config)
    save_classifier(out_dir / "model", trained, data, config)
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


def run_evaluation(saved: SavedModel, data: ProfileData, out_dir: Path, *, seed: int = 0) -> Path:
    """Score a saved classifier on labelled events; write predictions.csv and the report."""
    assert data.labels is not None and data.classes is not None
    run = RunFolder(out_dir, "AE event classification: evaluation of a saved model")
    run.save_config({"model": saved.config, "extra": saved.extra, "seed": seed})
    logits = predict(saved.module, saved.normalisation["inputs"].apply(data.features))
    proba = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    run.text(f"{len(data.labels)} labelled events scored with the saved network.")
    metrics = score_figures(
        run,
        data.labels,
        proba,
        data.classes,
        {"all": np.arange(len(data.labels))},
        scored="all",
        n_bootstrap=int(saved.extra.get("run_config", {}).get("n_bootstrap", 300)),
        seed=seed,
    )
    predictions = pd.DataFrame(
        {
            "event_id": data.event_ids,
            "label": [data.classes[k] for k in data.labels],
            "predicted": [data.classes[k] for k in proba.argmax(1)],
            **{f"p_{name}": proba[:, k] for k, name in enumerate(data.classes)},
        }
    )
    write_table(predictions, out_dir / "predictions.csv")
    run.save_metrics(metrics)
    return run.write_report()
