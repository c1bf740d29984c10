"""``warmstart.suggest``: configs for a table in one call, in process, on the shipped bundle."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor

import warmstart
from tests.factories import require_pmlb
from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.tasks import TaskData, load_suite
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import compute_meta_features
from warmstart.metamodel.spaces import validate_config
from warmstart.metamodel.types import ConfigValue, Observation, TaskType
from warmstart.service.local import LocalSuggestion, local_recommender


@pytest.fixture(scope="module")
def iris() -> TaskData:
    return load_suite(f"pmlb:{require_pmlb()}").load("iris")


@pytest.fixture(scope="module")
def auto_price() -> TaskData:
    return load_suite(f"pmlb:{require_pmlb()}").load("195_auto_price")  # 159 rows, regression


def test_suggestions_are_the_bundles_zero_shot_answer(iris: TaskData) -> None:
    got = warmstart.suggest(iris.X, iris.y, space="lightgbm", k=5)
    features = compute_meta_features(iris.X, iris.y, TaskType.MULTICLASS)
    expected = local_recommender("lightgbm").suggest(features, 5).suggestions
    assert [s.config for s in got] == [dict(e.config) for e in expected]
    assert [s.predicted_score for s in got] == [e.predicted_score for e in expected]
    space = get_learner("lightgbm").search_space()
    for s in got:
        assert isinstance(s, LocalSuggestion)
        assert validate_config(space, s.config) == s.config
        assert s.task_type is TaskType.MULTICLASS
        assert s.estimator_class is LGBMClassifier


def test_params_are_lightgbms_own_arguments_with_flags_resolved(iris: TaskData) -> None:
    got = warmstart.suggest(iris.X, iris.y, space="lightgbm", k=5)
    for s in got:
        config, params = s.config, s.params
        assert not {"limit_depth", "use_reg_alpha", "use_reg_lambda"} & set(params)
        assert params["max_depth"] == (config["max_depth"] if config["limit_depth"] else -1)
        for name in ("reg_alpha", "reg_lambda"):
            assert params[name] == (config[name] if config[f"use_{name}"] else 0.0)
        assert params["subsample"] == (config["subsample"] if config["subsample_freq"] else 1.0)
        assert params["n_estimators"] == config["n_estimators"]
        assert params["random_state"] == 0
        # The params rebuild the model of the ready estimator.
        model = s.estimator()[-1]
        assert LGBMClassifier(**params).get_params() == model.get_params()
    assert {s.config["limit_depth"] for s in got} | {s.config["use_reg_alpha"] for s in got} == {
        False,
        True,
    }, "the answer should exercise both sides of the flags"


def test_estimator_fits_and_predicts(iris: TaskData) -> None:
    best = warmstart.suggest(iris.X, iris.y, space="lightgbm", k=1)[0]
    model = best.estimator(seed=3).fit(iris.X, iris.y)
    assert model[-1].get_params()["random_state"] == 3
    assert model.score(iris.X, iris.y) > 0.9
    assert best.estimator() is not best.estimator()  # a new, unfitted one each call


def test_regression_is_inferred_and_built_as_a_regressor(auto_price: TaskData) -> None:
    got = warmstart.suggest(auto_price.X, auto_price.y, space="lightgbm", k=2)
    assert [s.task_type for s in got] == [TaskType.REGRESSION] * 2
    assert got[0].estimator_class is LGBMRegressor
    model = got[0].estimator().fit(auto_price.X, auto_price.y)
    assert model.predict(auto_price.X).shape == (len(auto_price.y),)


def test_other_space_numpy_input_and_given_task_type(iris: TaskData) -> None:
    X = iris.X.to_numpy(dtype=float)
    y = (iris.y.to_numpy() == iris.y.iloc[0]).astype(int)
    got = warmstart.suggest(X, y, space="knn", k=3, task_type="binary")
    assert len(got) == 3
    assert {s.task_type for s in got} == {TaskType.BINARY}
    for s in got:
        assert s.params["n_neighbors"] == s.config["n_neighbors"]
        assert s.estimator().fit(X, y).predict(X).shape == y.shape


def test_observed_configs_are_not_suggested_again(iris: TaskData) -> None:
    first = warmstart.suggest(iris.X, iris.y, space="lightgbm", k=3)
    seen: list[Observation | tuple[Mapping[str, ConfigValue], float]] = [
        Observation(first[0].config, 0.9),
        (first[1].config, 0.8),
    ]
    again = warmstart.suggest(iris.X, iris.y, space="lightgbm", k=3, observations=seen)
    configs = [s.config for s in again]
    assert first[0].config not in configs
    assert first[1].config not in configs


@pytest.mark.parametrize(
    ("X", "y", "space", "message"),
    [
        (pd.DataFrame({"a": [1.0, 2.0]}), [0, 1], "lightgbmm", "no model for space 'lightgbmm'"),
        (pd.DataFrame({"a": []}), [], "lightgbm", "X is empty"),
        (pd.DataFrame(index=range(3)), [0, 1, 0], "lightgbm", "X is empty"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), [0, 1], "lightgbm", "y has 2 values but X has 3"),
        (
            pd.DataFrame({"a": [1.0, 2.0, 3.0]}),
            [0.5, np.nan, 1.5],
            "lightgbm",
            "y has 1 missing values (rows [1])",
        ),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), [1, 1, 1], "lightgbm", "at least 2 distinct"),
    ],
)
def test_bad_input_is_named(X: pd.DataFrame, y: list[float], space: str, message: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        warmstart.suggest(X, y, space=space, k=2)
    assert message in str(caught.value)
    if space == "lightgbmm":
        assert "available: extra_trees, hist_gradient_boosting, knn, lightgbm" in str(caught.value)


def test_bad_observation_is_named(iris: TaskData) -> None:
    with pytest.raises(InvalidRequestError, match="an Observation or a \\(config, score\\) pair"):
        warmstart.suggest(iris.X, iris.y, k=1, observations=[{"n_estimators": 10}])  # type: ignore[list-item]


def test_importing_warmstart_loads_nothing_heavy() -> None:
    heavy = ("lightgbm", "sklearn", "pandas", "grpc", "sqlalchemy", "optuna", "ConfigSpace")
    code = (
        "import sys, warmstart; "
        f"print([m for m in {heavy!r} if m in sys.modules]); "
        "assert callable(warmstart.__getattr__); assert 'suggest' in dir(warmstart)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
