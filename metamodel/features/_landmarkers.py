"""Landmarkers: cross-validated scores of a few fast models.

Each is scored by 3-fold cross-validation on a stratified sample of at most
:data:`LANDMARK_ROWS` rows and :data:`LANDMARK_COLUMNS` columns (missing values
imputed by the column mean, columns standardised, categorical columns as
their codes): ROC AUC (one-vs-rest, macro over classes) on the pooled
out-of-fold predictions for classification, R² clipped to ``[-1, 1]`` for
regression.

Cost is time-boxed: after each fold, a landmarker whose folds are on course to
take longer than :data:`BUDGET_SECONDS` in all is stopped and NaN, as is one
whose model cannot fit the data. With more than :data:`MAX_CLASSES` classes
every landmarker is NaN (most classes would have a row or two per fold, and the
cost of trees and linear models grows with the classes). Scores are
deterministic for a given seed unless the time box cuts one off; the budget is
several times what the largest sample needs, so that only pathological data or
a badly overloaded machine hit it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from warmstart.metamodel.features._arrays import (
    FloatArray,
    IntArray,
    TaskArrays,
    group_rng,
    random_sample,
    stratified_sample,
)
from warmstart.metamodel.features._numeric import constant_columns, standardize

__all__ = [
    "BUDGET_SECONDS",
    "LANDMARK_COLUMNS",
    "LANDMARK_ROWS",
    "MAX_CLASSES",
    "NAMES",
    "compute",
]

_log = logging.getLogger(__name__)

NAMES = (
    "landmark_1nn",
    "landmark_stump",
    "landmark_tree_depth3",
    "landmark_naive_bayes",
    "landmark_linear",
)

LANDMARK_ROWS = 2000
"""Landmarkers read a stratified sample of at most this many rows."""
LANDMARK_COLUMNS = 100
"""... and at most this many non-constant columns, chosen at random (seeded)."""
FOLDS = 3
MIN_ROWS = 10
"""With fewer rows (with a target) every landmarker is NaN."""
BUDGET_SECONDS = 1.0
"""A landmarker whose folds are on course to take longer than this in all is NaN."""
MAX_CLASSES = 100
"""With more classes than this in the sample, every landmarker is NaN."""

Factory = Callable[[int], Any]

_CLASSIFIERS: dict[str, Factory | None] = {
    "landmark_1nn": lambda seed: KNeighborsClassifier(n_neighbors=1, algorithm="brute"),
    "landmark_stump": lambda seed: DecisionTreeClassifier(max_depth=1, random_state=seed),
    "landmark_tree_depth3": lambda seed: DecisionTreeClassifier(max_depth=3, random_state=seed),
    "landmark_naive_bayes": lambda seed: GaussianNB(),
    "landmark_linear": lambda seed: LogisticRegression(C=1.0, max_iter=100),
}
_REGRESSORS: dict[str, Factory | None] = {
    "landmark_1nn": lambda seed: KNeighborsRegressor(n_neighbors=1, algorithm="brute"),
    "landmark_stump": lambda seed: DecisionTreeRegressor(max_depth=1, random_state=seed),
    "landmark_tree_depth3": lambda seed: DecisionTreeRegressor(max_depth=3, random_state=seed),
    "landmark_naive_bayes": None,  # no regression counterpart
    "landmark_linear": lambda seed: Ridge(alpha=1.0),
}


def compute(data: TaskArrays) -> dict[str, float]:
    """Cross-validated AUC (classification) or R² (regression) of five fast models.

    ``landmark_naive_bayes`` is NaN for regression. Everything is NaN with fewer
    than :data:`MIN_ROWS` rows, one class or more than :data:`MAX_CLASSES`, or
    no non-constant column.
    """
    out = dict.fromkeys(NAMES, math.nan)
    prepared = _prepare(data)
    if prepared is None:
        return out
    X, y, folds = prepared
    factories = _CLASSIFIERS if data.is_classification else _REGRESSORS
    for name, factory in factories.items():
        if factory is None:
            continue
        try:
            out[name] = _score(factory, data.seed, X, y, folds, data.is_classification)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            _log.debug("landmarker %s failed: %s", name, exc)
    return out


def _prepare(data: TaskArrays) -> tuple[FloatArray, Any, IntArray] | None:
    """Sample rows and columns, impute, standardise, and assign folds."""
    rng = group_rng(data.seed, "landmarkers")
    target = np.asarray(data.sample_target)
    if data.is_classification:
        valid = np.flatnonzero(target >= 0)
        _, labels = np.unique(target[valid], return_inverse=True)
        labels = labels.astype(np.intp)
        if not 1 <= labels.max(initial=0) < MAX_CLASSES:
            return None  # one class: nothing to tell apart; too many: not worth it
        keep = stratified_sample(labels, LANDMARK_ROWS, rng)
        rows, y = valid[keep], labels[keep]
        _, y = np.unique(y, return_inverse=True)
        folds = _stratified_folds(y.astype(np.intp), rng)
    else:
        valid = np.flatnonzero(np.isfinite(target.astype(np.float64)))
        keep = random_sample(len(valid), LANDMARK_ROWS, rng)
        rows, y = valid[keep], target[valid[keep]].astype(np.float64)
        folds = rng.permutation(len(rows)) % FOLDS
    if len(rows) < MIN_ROWS:
        return None
    values = data.values[rows]
    ordered = np.sort(values, axis=0)
    counts = np.sum(~np.isnan(values), axis=0)
    varying = np.flatnonzero(~constant_columns(ordered, counts))
    if not len(varying):
        return None
    if len(varying) > LANDMARK_COLUMNS:
        varying = np.sort(rng.choice(varying, LANDMARK_COLUMNS, replace=False))
    return standardize(values[:, varying]), y, folds.astype(np.intp)


def _stratified_folds(labels: IntArray, rng: np.random.Generator) -> IntArray:
    """Fold of each row such that every class is spread over the folds."""
    perm = rng.permutation(len(labels))
    by_class = perm[np.argsort(labels[perm], kind="stable")]
    folds = np.empty(len(labels), dtype=np.intp)
    folds[by_class] = np.arange(len(labels)) % FOLDS
    return folds


def _score(
    factory: Factory,
    seed: int,
    X: FloatArray,
    y: Any,
    folds: IntArray,
    classification: bool,
) -> float:
    n_classes = int(y.max()) + 1 if classification else 0
    predictions = np.zeros((len(y), n_classes)) if classification else np.zeros(len(y))
    start = time.perf_counter()
    for fold in range(FOLDS):
        test = folds == fold
        train = ~test
        if not test.any() or not train.any():
            return math.nan
        if classification:
            predictions[test] = _class_probabilities(
                factory(seed), X[train], y[train], X[test], n_classes
            )
        else:
            predictions[test] = factory(seed).fit(X[train], y[train]).predict(X[test])
        if (time.perf_counter() - start) * FOLDS / (fold + 1) > BUDGET_SECONDS:
            return math.nan
    if classification:
        return _macro_auc(predictions, y)
    return _r2(predictions, y)


def _class_probabilities(
    model: Any, X_train: FloatArray, y_train: IntArray, X_test: FloatArray, n_classes: int
) -> FloatArray:
    out = np.zeros((len(X_test), n_classes))
    seen = np.unique(y_train)
    if len(seen) == 1:
        out[:, seen[0]] = 1.0  # a fold with one class predicts it
        return out
    model.fit(X_train, y_train)
    out[:, model.classes_] = model.predict_proba(X_test)
    return out


def _macro_auc(scores: FloatArray, y: IntArray) -> float:
    """One-vs-rest ROC AUC averaged over classes present (ties count half, as sklearn)."""
    n = len(y)
    positives = np.bincount(y, minlength=scores.shape[1]).astype(np.float64)
    scored = (positives > 0) & (positives < n)
    if not scored.any():
        return math.nan
    ranks = rankdata(scores[:, scored], axis=0)
    onehot = y[:, None] == np.flatnonzero(scored)[None, :]
    rank_sum = (ranks * onehot).sum(axis=0)
    pos = positives[scored]
    auc = (rank_sum - pos * (pos + 1) / 2) / (pos * (n - pos))
    return float(np.clip(auc.mean(), 0.0, 1.0))


def _r2(predictions: FloatArray, y: FloatArray) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    if not total > 0:
        return math.nan
    residual = float(np.sum((y - predictions) ** 2))
    return float(np.clip(1.0 - residual / total, -1.0, 1.0))
