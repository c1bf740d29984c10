"""Learners: spaces, defaults and estimators on small real tasks.

Every learner's space is stable and its default and random configs are valid;
the default and a handful of configs fit and predict on each supported task
type; all 50 random configs run on a tiny task (slow for the learners whose
50 fits take more than ~20 s on one core); inputs with NaN, ±inf, categorical
and constant columns run; the MLP is deterministic and survives divergence.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from warmstart.benchmarks.learners import Learner, available_learners, get_learner
from warmstart.benchmarks.learners._mlp import TorchMLPClassifier, TorchMLPRegressor
from warmstart.metamodel.errors import InvalidRequestError, NotFoundError
from warmstart.metamodel.spaces import (
    default_config,
    load_configspace,
    make_search_space,
    sample_configs,
    validate_config,
)
from warmstart.metamodel.types import ConfigValue, TaskType

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

LEARNERS = [
    "extra_trees",
    "hist_gradient_boosting",
    "knn",
    "lightgbm",
    "logistic_regression",
    "mlp",
    "random_forest",
    "svm",
]
# Learners whose 50 unmodified random configs take more than ~20 s on one core.
SLOW_FIFTY = {"extra_trees", "random_forest", "mlp"}
# Parameters that scale a fit's cost, capped for the quick handful-of-configs test.
BUDGET_CAPS = {"n_estimators": 25, "max_iter": 50, "epochs": 8, "units_2": 64, "units_3": 64}

Task = tuple[pd.DataFrame, pd.Series]


def _subsample(X: Any, y: Any, n: int, seed: int) -> Task:
    rows = np.random.default_rng(seed).choice(len(X), size=n, replace=False)
    return pd.DataFrame(np.asarray(X)[rows]), pd.Series(np.asarray(y)[rows])


def _tasks(n: int) -> dict[TaskType, Task]:
    cancer = load_breast_cancer()
    labels = cancer.target_names[cancer.target]  # string labels, not 0/1
    iris = load_iris()
    diabetes = load_diabetes()
    return {
        TaskType.BINARY: _subsample(cancer.data, labels, n, 0),
        TaskType.MULTICLASS: _subsample(iris.data, iris.target, min(n, 150), 1),
        TaskType.REGRESSION: _subsample(diabetes.data, diabetes.target.astype(float), n, 2),
    }


@pytest.fixture(scope="module")
def small_tasks() -> dict[TaskType, Task]:
    return _tasks(150)


@pytest.fixture(scope="module")
def tiny_tasks() -> dict[TaskType, Task]:
    return _tasks(80)


def _messy_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=n)
    numeric[::7] = np.nan
    numeric[3::11] = np.inf
    numeric[5::13] = -np.inf
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    colour[::5] = None
    return pd.DataFrame(
        {
            "numeric": numeric,
            "colour": colour,
            "size": pd.Categorical(rng.choice(["S", "M", "L"], size=n)),
            "flag": rng.random(n) > 0.5,
            "constant": np.ones(n),
            "empty": np.full(n, np.nan),
            3: rng.integers(0, 5, size=n),  # a non-string column name
        }
    )


def _check_predictions(estimator: Any, X: pd.DataFrame, y: pd.Series, task_type: TaskType) -> None:
    predictions = np.asarray(estimator.predict(X))
    assert predictions.shape == (len(X),)
    if task_type is TaskType.REGRESSION:
        assert np.isfinite(predictions.astype(float)).all()
        assert not hasattr(estimator, "predict_proba")
        return
    assert set(predictions) <= set(y)
    probabilities = estimator.predict_proba(X)
    assert probabilities.shape == (len(X), y.nunique())
    assert np.isfinite(probabilities).all()
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    assert list(estimator.classes_) == sorted(set(y))


def _fit_check(learner: Learner, config: Any, task_type: TaskType, task: Task) -> None:
    X, y = task
    estimator = learner.make_estimator(config, task_type, seed=0)
    estimator.fit(X, y)
    _check_predictions(estimator, X, y, task_type)


def _capped(learner: Learner, config: dict[str, ConfigValue]) -> dict[str, ConfigValue]:
    space = learner.search_space()
    out = dict(config)
    for name, cap in BUDGET_CAPS.items():
        if name in out and int(out[name]) > cap:
            out[name] = cap
    return validate_config(space, out)


# -- registry ------------------------------------------------------------------------------------


def test_available_learners_are_the_eight() -> None:
    assert available_learners() == LEARNERS
    for name in LEARNERS:
        learner = get_learner(name)
        assert isinstance(learner, Learner)
        assert learner.name == name
        assert learner.deterministic is True
        assert learner.task_types <= frozenset(TaskType)


def test_task_types_per_learner() -> None:
    assert get_learner("logistic_regression").task_types == {TaskType.BINARY, TaskType.MULTICLASS}
    for name in set(LEARNERS) - {"logistic_regression"}:
        assert get_learner(name).task_types == frozenset(TaskType)


def test_unknown_learner_names_the_available_ones() -> None:
    with pytest.raises(NotFoundError, match=r"'lightgmb'.*did you mean 'lightgbm'.*knn"):
        get_learner("lightgmb")


def test_learner_is_immutable() -> None:
    learner = get_learner("knn")
    with pytest.raises(AttributeError, match="immutable"):
        learner.name = "other"  # type: ignore[misc]


# -- spaces and defaults -------------------------------------------------------------------------


@pytest.mark.parametrize("name", LEARNERS)
def test_search_space_is_fresh_and_stable(name: str) -> None:
    learner = get_learner(name)
    first, second = learner.search_space(), learner.search_space()
    assert first is not second
    space = make_search_space(name, first)
    assert make_search_space(name, second).space_id == space.space_id
    # The stored JSON loads back to the same space.
    assert make_search_space(name, load_configspace(space)).space_id == space.space_id


def test_space_ids_are_stable_across_processes() -> None:
    script = (
        "import json, sys\n"
        "from benchmarks.learners import available_learners, get_learner\n"
        "from metamodel.spaces import make_search_space\n"
        "ids = {n: make_search_space(n, get_learner(n).search_space()).space_id"
        " for n in available_learners()}\n"
        "print(json.dumps({'ids': ids, 'torch': 'torch' in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        cwd=str(Path(__file__).resolve().parents[2]),
        timeout=120,
    )
    here = {n: make_search_space(n, get_learner(n).search_space()).space_id for n in LEARNERS}
    # Listing learners and spaces does not load torch (it loads when an MLP is built).
    assert json.loads(result.stdout) == {"ids": here, "torch": False}


@pytest.mark.parametrize("name", LEARNERS)
def test_default_config_is_valid_and_is_the_space_default(name: str) -> None:
    learner = get_learner(name)
    space = learner.search_space()
    default = learner.default_config()
    assert validate_config(space, default) == default
    assert default == default_config(space)
    assert sample_configs(space, 3, method="random", seed=0)[0] == default


@pytest.mark.parametrize("name", LEARNERS)
def test_fifty_random_and_sobol_configs_are_valid(name: str) -> None:
    space = get_learner(name).search_space()
    for method in ("random", "sobol"):
        configs = sample_configs(space, 50, method=method, seed=7)
        assert len(configs) == 50
        for config in configs:
            assert validate_config(space, config) == config


def test_library_defaults_match_the_libraries() -> None:
    lgbm = get_learner("lightgbm").default_config()
    assert lgbm["num_leaves"] == 31
    assert (lgbm["limit_depth"], lgbm["use_reg_alpha"], lgbm["subsample_freq"]) == (False, False, 0)
    assert not {"subsample", "max_depth", "reg_alpha", "reg_lambda"} & set(lgbm)
    assert get_learner("random_forest").default_config()["bootstrap"] is True
    assert get_learner("extra_trees").default_config()["bootstrap"] is False
    svm = get_learner("svm").default_config()
    assert (svm["kernel"], svm["gamma_mode"], svm["C"]) == ("rbf", "scale", 1.0)
    assert "gamma" not in svm
    logistic = get_learner("logistic_regression").default_config()
    assert (logistic["penalty"], logistic["solver"], logistic["C"]) == ("l2", "lbfgs", 1.0)
    knn = get_learner("knn").default_config()
    assert knn == {"n_neighbors": 5, "p": 2, "weights": "uniform"}


def test_logistic_space_has_only_legal_solver_penalty_pairs() -> None:
    space = get_learner("logistic_regression").search_space()
    legal = {
        "l1": {"liblinear", "saga"},
        "elasticnet": {"saga"},
        "none": {"lbfgs", "newton-cg", "newton-cholesky", "sag", "saga"},
        "l2": {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"},
    }
    for config in sample_configs(space, 200, method="random", seed=3):
        assert config["solver"] in legal[str(config["penalty"])]
        assert ("C" in config) == (config["penalty"] != "none")
        assert ("l1_ratio" in config) == (config["penalty"] == "elasticnet")


def test_mlp_space_conditionals() -> None:
    space = get_learner("mlp").search_space()
    for config in sample_configs(space, 100, method="random", seed=5):
        layers = int(config["n_layers"])
        assert all((f"units_{i}" in config) == (i <= layers) for i in range(1, 5))
        optimizer = config["optimizer"]
        assert ("nesterov" in config) == (optimizer == "sgd")
        assert ("momentum" in config) == (optimizer in ("sgd", "rmsprop"))
        assert ("beta1" in config) == (optimizer in ("adam", "adamw"))
        assert ("rho" in config) == (optimizer == "rmsprop")
        assert ("step_size" in config) == (config["lr_schedule"] == "step")
        assert ("exp_gamma" in config) == (config["lr_schedule"] == "exponential")


# -- fitting -------------------------------------------------------------------------------------


def _cases() -> list[tuple[str, TaskType]]:
    return [(n, t) for n in LEARNERS for t in TaskType if t in get_learner(n).task_types]


@pytest.mark.parametrize(("name", "task_type"), _cases())
def test_default_and_five_configs_fit_and_predict(
    name: str, task_type: TaskType, small_tasks: dict[TaskType, Task]
) -> None:
    learner = get_learner(name)
    space = learner.search_space()
    configs = sample_configs(space, 6, method="random", seed=11)
    assert configs[0] == learner.default_config()
    _fit_check(learner, configs[0], task_type, small_tasks[task_type])
    for config in configs[1:]:
        _fit_check(learner, _capped(learner, config), task_type, small_tasks[task_type])


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_FIFTY else n for n in LEARNERS],
)
def test_fifty_random_configs_run_on_a_tiny_task(
    name: str, tiny_tasks: dict[TaskType, Task]
) -> None:
    learner = get_learner(name)
    kinds = sorted(learner.task_types)
    configs = sample_configs(learner.search_space(), 50, method="random", seed=2024)
    assert len(configs) == 50
    for i, config in enumerate(configs):  # every config as sampled, task types in turn
        task_type = kinds[i % len(kinds)]
        _fit_check(learner, config, task_type, tiny_tasks[task_type])


@pytest.mark.parametrize("name", LEARNERS)
def test_messy_inputs_run(name: str) -> None:
    learner = get_learner(name)
    X = _messy_frame(90, seed=0)
    labels = pd.Series(np.where(np.arange(90) % 3 == 0, "yes", "no"))
    target = pd.Series(np.linspace(0.0, 1.0, 90) + np.nan_to_num(X["numeric"], posinf=0, neginf=0))
    unseen = _messy_frame(20, seed=1)
    unseen.loc[0, "colour"] = "purple"  # a category never seen in fit
    unseen["size"] = pd.Categorical(["XL"] * 20)
    for task_type in sorted(learner.task_types & {TaskType.BINARY, TaskType.REGRESSION}):
        y = target if task_type is TaskType.REGRESSION else labels
        estimator = learner.make_estimator(learner.default_config(), task_type, seed=0)
        estimator.fit(X, y)
        _check_predictions(estimator, X, y, task_type)
        predictions = np.asarray(estimator.predict(unseen))
        assert len(predictions) == 20
        if task_type is not TaskType.REGRESSION:
            assert np.isfinite(estimator.predict_proba(unseen)).all()
        # NumPy input with the same columns works too.
        numeric_only = X[["numeric", "constant"]]
        estimator.fit(numeric_only.to_numpy(), y)
        assert len(estimator.predict(numeric_only.to_numpy())) == 90


@pytest.mark.parametrize("name", LEARNERS)
def test_same_seed_same_predictions(name: str, small_tasks: dict[TaskType, Task]) -> None:
    learner = get_learner(name)
    X, y = small_tasks[TaskType.BINARY]
    runs = []
    for _ in range(2):
        estimator = learner.make_estimator(learner.default_config(), TaskType.BINARY, seed=3)
        runs.append(estimator.fit(X, y).predict_proba(X))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_fitted_estimator_pickles(small_tasks: dict[TaskType, Task]) -> None:
    X, y = small_tasks[TaskType.MULTICLASS]
    for name in ("lightgbm", "mlp", "svm"):
        learner = get_learner(name)
        estimator = learner.make_estimator(learner.default_config(), "multiclass", seed=0).fit(X, y)
        copy = pickle.loads(pickle.dumps(estimator))
        np.testing.assert_array_equal(copy.predict_proba(X), estimator.predict_proba(X))


# -- the MLP -------------------------------------------------------------------------------------


def _mlp_config(**changes: ConfigValue) -> dict[str, ConfigValue]:
    config = get_learner("mlp").default_config()
    config.update(
        n_layers=2, units_2=32, dropout=0.2, batch_norm=True, batch_size=32, epochs=8, **changes
    )
    return config


@pytest.mark.parametrize("task_type", list(TaskType))
def test_mlp_is_bit_deterministic_per_seed(
    task_type: TaskType, small_tasks: dict[TaskType, Task]
) -> None:
    X, y = small_tasks[task_type]
    learner = get_learner("mlp")
    config = _mlp_config()
    threads = torch.get_num_threads()
    rng_state = torch.get_rng_state()

    def run(seed: int) -> np.ndarray[Any, Any]:
        estimator = learner.make_estimator(config, task_type, seed=seed).fit(X, y)
        assert estimator.named_steps["model"].diverged_ is False
        if task_type is TaskType.REGRESSION:
            return np.asarray(estimator.predict(X))
        return np.asarray(estimator.predict_proba(X))

    first, again, other = run(0), run(0), run(1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # Global torch state is restored: the caller's RNG stream and thread count.
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads


def test_mlp_divergence_falls_back_without_raising(small_tasks: dict[TaskType, Task]) -> None:
    config = _mlp_config(optimizer="sgd", momentum=0.99, nesterov=False, learning_rate=0.1)
    config.update(batch_norm=False)
    X, y = small_tasks[TaskType.REGRESSION]
    huge = np.asarray(X, dtype=np.float64) * 1e30
    regressor = TorchMLPRegressor(config, seed=0).fit(huge, y)
    assert regressor.diverged_ is True
    np.testing.assert_allclose(regressor.predict(huge), np.full(len(y), float(np.mean(y))))

    X, y = small_tasks[TaskType.MULTICLASS]
    classifier = TorchMLPClassifier(config, seed=0).fit(np.asarray(X) * 1e30, y)
    assert classifier.diverged_ is True
    priors = np.bincount(np.unique(y, return_inverse=True)[1]) / len(y)
    np.testing.assert_allclose(
        classifier.predict_proba(np.asarray(X)), np.tile(priors, (len(y), 1))
    )


def test_mlp_each_optimizer_schedule_and_init_trains(small_tasks: dict[TaskType, Task]) -> None:
    X, y = small_tasks[TaskType.MULTICLASS]
    learner = get_learner("mlp")
    variants: list[dict[str, ConfigValue]] = [
        {"optimizer": "sgd", "momentum": 0.0, "nesterov": True, "lr_schedule": "step",
         "step_size": 2, "step_gamma": 0.5, "init": "orthogonal", "activation": "selu"},
        {"optimizer": "rmsprop", "momentum": 0.5, "rho": 0.9, "lr_schedule": "cosine",
         "init": "xavier_normal", "activation": "tanh", "use_grad_clip": True,
         "grad_clip_norm": 1.0},
        {"optimizer": "adamw", "lr_schedule": "exponential", "exp_gamma": 0.9,
         "init": "kaiming_normal", "activation": "leaky_relu", "use_weight_decay": True,
         "weight_decay": 0.01, "use_l1": True, "l1_penalty": 1e-5, "warmup_fraction": 0.2,
         "label_smoothing": 0.1},
    ]  # fmt: skip
    for changes in variants:
        config = _mlp_config()
        for key in ("beta1", "beta2", "eps"):
            if changes["optimizer"] not in ("adam", "adamw"):
                config.pop(key)
        config.update(changes)
        estimator = learner.make_estimator(config, "multiclass", seed=0).fit(X, y)
        assert estimator.named_steps["model"].diverged_ is False
        _check_predictions(estimator, X, y, TaskType.MULTICLASS)


# -- errors --------------------------------------------------------------------------------------

BAD_CONFIGS = [
    ("lightgbm", {"num_leaves": 1}, "num_leaves"),
    ("lightgbm", {"max_depth": 4}, "max_depth"),  # inactive: limit_depth is False
    ("random_forest", {"max_features": "all"}, "max_features"),
    ("extra_trees", {"n_estimators": 2.5}, "n_estimators"),
    ("hist_gradient_boosting", {"max_bins": 300}, "max_bins"),
    ("svm", {"gamma": 0.5}, "gamma"),  # inactive: gamma_mode is 'scale'
    ("logistic_regression", {"solver": "lbfgs", "penalty": "l1"}, "forbidden"),
    ("knn", {"n_neighbors": 0}, "n_neighbors"),
    ("mlp", {"activation": "swish"}, "activation"),
    ("mlp", {"learning_rate": "fast"}, "learning_rate"),
    ("knn", {"leaf_size": 30}, "leaf_size"),  # unknown parameter
]


@pytest.mark.parametrize(("name", "changes", "fragment"), BAD_CONFIGS)
def test_invalid_config_is_refused_with_the_parameter_named(
    name: str, changes: dict[str, ConfigValue], fragment: str
) -> None:
    learner = get_learner(name)
    config = {**learner.default_config(), **changes}
    kind = TaskType.BINARY
    with pytest.raises(InvalidRequestError, match=fragment) as info:
        learner.make_estimator(config, kind, seed=0)
    assert name in str(info.value)


def test_missing_active_parameter_is_named() -> None:
    learner = get_learner("svm")
    config = learner.default_config()
    del config["C"]
    with pytest.raises(InvalidRequestError, match=r"missing.*'C'"):
        learner.make_estimator(config, "binary", seed=0)


def test_unsupported_task_type_is_refused() -> None:
    learner = get_learner("logistic_regression")
    with pytest.raises(InvalidRequestError, match=r"does not support 'regression'.*binary"):
        learner.make_estimator(learner.default_config(), TaskType.REGRESSION, seed=0)
    with pytest.raises(InvalidRequestError, match=r"unknown task type 'ranking'"):
        get_learner("knn").make_estimator(get_learner("knn").default_config(), "ranking", seed=0)


@pytest.mark.parametrize(("seed", "n_threads"), [(0, 0), (0, True), ("1", 1), (1.5, 1)])
def test_bad_seed_or_thread_count_is_refused(seed: Any, n_threads: Any) -> None:
    learner = get_learner("knn")
    with pytest.raises(InvalidRequestError, match=r"seed|n_threads"):
        learner.make_estimator(learner.default_config(), "binary", seed=seed, n_threads=n_threads)
