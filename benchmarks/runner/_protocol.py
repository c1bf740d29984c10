"""The evaluation protocol: split, fit, predict, score.

Stratified k-fold cross-validation for classification (k-fold for regression)
or a single hold-out split, with the job's seed fixing every random choice.
Metrics are averaged over folds; the primary score is the one
:mod:`warmstart.metamodel.metrics` names for the task type.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from warmstart.benchmarks.learners import Learner
from warmstart.benchmarks.runner._jobs import Job, JobResult, Protocol
from warmstart.benchmarks.tasks import TaskData
from warmstart.metamodel.metrics import primary_metric
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.types import ConfigValue, RecordStatus, TaskType

__all__ = ["cap_rows", "config_job", "evaluate", "evaluate_config", "splits"]

_EPS = float(np.finfo(float).eps)  # as scikit-learn clips in log_loss


def cap_rows(data: TaskData, protocol: Protocol, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Return the rows the evaluation uses: all, or a seeded (stratified) subsample."""
    X, y = data.X, data.y
    cap = protocol.row_cap
    if cap is None or len(y) <= cap:
        return X, y
    stratify = None
    if data.task.task_type is not TaskType.REGRESSION and y.value_counts().min() >= 2:
        stratify = y
    index = np.arange(len(y))
    keep, _ = train_test_split(index, train_size=cap, random_state=seed, stratify=stratify)
    keep = np.sort(keep)
    return X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)


def splits(
    y: pd.Series, task_type: TaskType, protocol: Protocol, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the (train, test) index pairs of the protocol."""
    index = np.arange(len(y))
    classification = task_type is not TaskType.REGRESSION
    if protocol.holdout:
        stratify = y if classification and y.value_counts().min() >= 2 else None
        train, test = train_test_split(
            index, test_size=protocol.holdout, random_state=seed, stratify=stratify
        )
        return [(np.sort(train), np.sort(test))]
    if classification and y.value_counts().min() >= protocol.folds:
        splitter: Any = StratifiedKFold(n_splits=protocol.folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=protocol.folds, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros(len(y)), y)]


def _full_proba(estimator: Any, proba: np.ndarray, n_classes: int) -> np.ndarray:
    """Put the columns of the classes seen in training into the full class order."""
    seen = np.asarray(estimator.classes_, dtype=int)
    full = np.zeros((proba.shape[0], n_classes))
    full[:, seen] = proba
    full = np.clip(np.nan_to_num(full, nan=0.0), 0.0, None)
    sums = full.sum(axis=1, keepdims=True)
    return np.where(sums > 0, full / np.where(sums > 0, sums, 1.0), 1.0 / n_classes)


def _auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of one binary split via the rank-sum (Mann-Whitney U) identity."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores, method="average")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Binary AUC, or one-vs-rest macro AUC over the classes present in ``y``."""
    if proba.shape[1] == 2:
        return _auc(y == 1, proba[:, 1])
    scores = [_auc(y == c, proba[:, c]) for c in range(proba.shape[1])]
    finite = [s for s in scores if np.isfinite(s)]
    return float(np.mean(finite)) if finite else float("nan")


def _classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    # Plain numpy: scikit-learn's metric functions spend ~80 ms per call validating
    # their inputs, a fifth of a one-second evaluation. Tests check these against them.
    predicted = proba.argmax(axis=1)
    likelihood = np.clip(proba[np.arange(len(y)), y], _EPS, 1.0)
    recalls = [float(np.mean(predicted[y == c] == c)) for c in np.unique(y)]
    return {
        "roc_auc": _roc_auc(y, proba),
        "log_loss": float(-np.mean(np.log(likelihood))),
        "balanced_accuracy": float(np.mean(recalls)),
        "accuracy": float(np.mean(predicted == y)),
    }


def _regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    if not np.all(np.isfinite(predicted)):
        return {"r2": float("nan"), "rmse": float("nan"), "mae": float("nan")}
    residual = y - predicted
    total = float(np.sum((y - y.mean()) ** 2))
    sse = float(np.sum(residual**2))
    r2 = (1.0 - sse / total) if total > 0 else (1.0 if sse == 0 else 0.0)
    return {
        "r2": float(r2),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
    }


def evaluate(job: Job, data: TaskData, learner: Learner) -> JobResult:
    """Evaluate one config on one task; errors propagate to the caller.

    Returns:
        An ``ok`` result with fold-averaged metrics, fit and predict seconds per
        fold; ``failed`` if the primary score came out undefined.
    """
    task_type = data.task.task_type
    X, y_raw = cap_rows(data, job.protocol, job.seed)
    if task_type is TaskType.REGRESSION:
        y = y_raw.to_numpy(dtype=float)
        n_classes = 0
    else:
        classes, y = np.unique(y_raw.astype(str).to_numpy(), return_inverse=True)
        n_classes = len(classes)
    folds: list[dict[str, float]] = []
    fit_times: list[float] = []
    predict_times: list[float] = []
    for train, test in splits(pd.Series(y), task_type, job.protocol, job.seed):
        estimator = learner.make_estimator(job.config, task_type, seed=job.seed)
        start = time.perf_counter()
        estimator.fit(X.iloc[train], y[train])
        fit_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        if task_type is TaskType.REGRESSION:
            predicted = np.asarray(estimator.predict(X.iloc[test]), dtype=float)
            predict_times.append(time.perf_counter() - start)
            folds.append(_regression_metrics(y[test], predicted))
        else:
            proba = np.asarray(estimator.predict_proba(X.iloc[test]), dtype=float)
            predict_times.append(time.perf_counter() - start)
            folds.append(_classification_metrics(y[test], _full_proba(estimator, proba, n_classes)))
    metrics = {name: float(np.nanmean([f[name] for f in folds])) for name in folds[0]}
    metrics["rows_used"] = float(len(y))
    metrics["folds"] = float(len(folds))
    score = metrics[primary_metric(task_type)]
    common = {
        "metrics": metrics,
        "fit_seconds": float(np.mean(fit_times)),
        "predict_seconds": float(np.mean(predict_times)),
    }
    if not np.isfinite(score):
        return JobResult(
            job,
            RecordStatus.FAILED,
            error=f"the primary score {primary_metric(task_type)} is undefined "
            "(non-finite predictions or a test split with one class)",
            **common,  # type: ignore[arg-type]
        )
    return JobResult(job, RecordStatus.OK, score=float(score), **common)  # type: ignore[arg-type]


def config_job(
    data: TaskData,
    learner: str,
    space_id: str,
    config: Mapping[str, ConfigValue],
    protocol: Protocol,
    seed: int,
    *,
    suite: str = "adhoc",
    task_name: str | None = None,
) -> Job:
    """The job that evaluates one config on ``data`` outside a plan.

    :func:`evaluate_config` evaluates it in this process; a worker process
    (:class:`~warmstart.benchmarks.runner.WorkerProcess`) can run the same job,
    with the same seed, protocol and config hash, so both give the same score.

    Args:
        data: The task's data.
        learner: The learner's registered name or ``"module:attribute"`` (what
            a worker process resolves with :func:`resolve_learner`).
        space_id: The search space's id.
        config: The config.
        protocol: How it is evaluated.
        seed: Seed of the splits and the model.
        suite: The suite's spec string (a worker process loads the task from it).
        task_name: The task's name in that suite (default: ``data.task.name``).
    """
    return Job(
        suite=suite,
        task_name=data.task.name if task_name is None else task_name,
        task_id=data.task.task_id,
        learner=learner,
        space_id=space_id,
        config=dict(config),
        config_hash=config_hash(config),
        seed=seed,
        protocol=protocol,
    )


def evaluate_config(
    data: TaskData,
    learner: Learner,
    space_id: str,
    config: Mapping[str, ConfigValue],
    protocol: Protocol,
    seed: int,
    *,
    suite: str = "adhoc",
) -> JobResult:
    """Evaluate one config in this process, outside a plan (live evaluation, demos).

    Unlike :func:`evaluate`, an exception is a ``failed`` result carrying the
    error, as the runner's workers would store it.
    """
    job = config_job(data, learner.name, space_id, config, protocol, seed, suite=suite)
    try:
        return evaluate(job, data, learner)
    except Exception as exc:
        return JobResult(job, RecordStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
