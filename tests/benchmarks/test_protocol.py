"""The evaluation protocol: splits, row cap and metrics, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.runner import Job, Protocol, evaluate
from warmstart.benchmarks.runner._protocol import cap_rows, splits
from warmstart.benchmarks.tasks import TaskData, load_suite
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.types import RecordStatus, TaskType


def _job(data: TaskData, learner: str, protocol: Protocol, seed: int = 0) -> Job:
    config = get_learner(learner).default_config()
    return Job(
        suite="sklearn",
        task_name=data.task.name,
        task_id=data.task.task_id,
        learner=learner,
        space_id="s",
        config=config,
        config_hash=config_hash(config),
        seed=seed,
        protocol=protocol,
    )


@pytest.fixture(scope="module")
def wine() -> TaskData:
    return load_suite("sklearn:wine").load("wine")


@pytest.fixture(scope="module")
def diabetes() -> TaskData:
    return load_suite("sklearn:diabetes").load("diabetes")


def test_classification_metrics_match_scikit_learn(wine: TaskData) -> None:
    protocol = Protocol(folds=3, row_cap=None)
    result = evaluate(_job(wine, "knn", protocol), wine, get_learner("knn"))
    assert result.status is RecordStatus.OK
    _, y = np.unique(wine.y.astype(str), return_inverse=True)
    aucs = []
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(wine.X, y):
        model = get_learner("knn").make_estimator(
            _job(wine, "knn", protocol).config, "multiclass", 0
        )
        model.fit(wine.X.iloc[train], y[train])
        aucs.append(
            roc_auc_score(y[test], model.predict_proba(wine.X.iloc[test]), multi_class="ovr")
        )
    assert result.score == pytest.approx(np.mean(aucs))
    assert result.metrics["roc_auc"] == result.score
    assert result.metrics["log_loss"] > 0
    assert 0 <= result.metrics["balanced_accuracy"] <= 1
    assert result.metrics["rows_used"] == len(wine.y)
    assert result.fit_seconds is not None
    assert result.predict_seconds is not None


def test_regression_scores_r2_on_a_holdout(diabetes: TaskData) -> None:
    protocol = Protocol(holdout=0.25, row_cap=None)
    result = evaluate(_job(diabetes, "lightgbm", protocol), diabetes, get_learner("lightgbm"))
    train, test = splits(diabetes.y, TaskType.REGRESSION, protocol, 0)[0]
    assert len(test) == pytest.approx(0.25 * len(diabetes.y), abs=1)
    model = get_learner("lightgbm").make_estimator(
        get_learner("lightgbm").default_config(), "regression", 0
    )
    model.fit(diabetes.X.iloc[train], diabetes.y.iloc[train])
    expected = r2_score(diabetes.y.iloc[test], model.predict(diabetes.X.iloc[test]))
    assert result.score == pytest.approx(expected)
    assert set(result.metrics) >= {"r2", "rmse", "mae"}
    assert result.metrics["folds"] == 1


def test_row_cap_subsamples_stratified_and_reproducibly(wine: TaskData) -> None:
    protocol = Protocol(folds=2, row_cap=60)
    X1, y1 = cap_rows(wine, protocol, seed=1)
    X2, _ = cap_rows(wine, protocol, seed=1)
    assert len(y1) == 60
    pd.testing.assert_frame_equal(X1, X2)
    full = wine.y.value_counts(normalize=True).sort_index()
    capped = y1.value_counts(normalize=True).sort_index()
    assert np.allclose(full, capped, atol=0.03)
    assert len(wine.y) == 178  # the task's own data is untouched
    assert not cap_rows(wine, protocol, seed=2)[0].equals(X1)


def test_seeds_change_the_split_and_fix_it(wine: TaskData) -> None:
    protocol = Protocol(folds=3, row_cap=None)
    a = splits(wine.y, TaskType.MULTICLASS, protocol, 0)
    b = splits(wine.y, TaskType.MULTICLASS, protocol, 0)
    c = splits(wine.y, TaskType.MULTICLASS, protocol, 1)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))


def test_a_class_too_rare_for_stratification_still_evaluates() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    y = pd.Series(["common"] * 40 + ["other"] * 19 + ["rare"])
    from warmstart.benchmarks.tasks import build_task_data

    data = build_task_data(X, y, name="rare", source="test")
    result = evaluate(_job(data, "knn", Protocol(folds=3, row_cap=None)), data, get_learner("knn"))
    assert result.status is RecordStatus.OK
    assert np.isfinite(result.metrics["log_loss"])


@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_fast_classification_metrics_equal_scikit_learn(n_classes: int) -> None:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss

    from warmstart.benchmarks.runner._protocol import _classification_metrics

    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, 300)
    proba = rng.random((300, n_classes)).round(2)  # rounding makes ties
    proba /= proba.sum(axis=1, keepdims=True)
    ours = _classification_metrics(y, proba)
    if n_classes == 2:
        auc = roc_auc_score(y, proba[:, 1])
    else:
        auc = roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert ours["roc_auc"] == pytest.approx(auc, abs=1e-12)
    assert ours["log_loss"] == pytest.approx(log_loss(y, proba), abs=1e-9)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, proba.argmax(axis=1)))
    assert ours["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y, proba.argmax(axis=1))
    )


def test_fast_regression_metrics_equal_scikit_learn() -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    from warmstart.benchmarks.runner._protocol import _regression_metrics

    rng = np.random.default_rng(0)
    y, predicted = rng.normal(size=200), rng.normal(size=200)
    ours = _regression_metrics(y, predicted)
    assert ours["r2"] == pytest.approx(r2_score(y, predicted))
    assert ours["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, predicted)))
    assert ours["mae"] == pytest.approx(mean_absolute_error(y, predicted))
