"""The compiled trees give LightGBM's own predictions, on the shipped bundles and on odd inputs."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.surrogate import SIZE_INPUT, CompiledTrees, SurrogateParams

SHIPPED = sorted((Path(__file__).parents[2] / "kb" / "models").glob("*.wsb"))


def _odd_rows(n_features: int, n_rows: int, seed: int) -> np.ndarray:
    """Rows with NaN, exact zeros, tiny values, negative and unseen category codes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)) * 3
    X[rng.random(X.shape) < 0.1] = 0.0
    X[rng.random(X.shape) < 0.05] = 1e-40
    for j in range(n_features):
        if j % 3 == 0:  # small integers, as encoded categoricals are
            X[:, j] = rng.integers(-1, 6, size=n_rows)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def _lightgbm(boosters: list[lgb.Booster], X: np.ndarray) -> np.ndarray:
    return np.vstack([b.predict(X) for b in boosters])


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_bundles_compile_to_the_same_predictions(path: Path) -> None:
    bundle = load_bundle(path)
    surrogate = bundle.surrogate
    boosters = [*surrogate.members, *([surrogate.fit_time] if surrogate.fit_time else [])]
    # The task side: the meta-features, then the training size where the surrogate takes it.
    n_task = len(bundle.index.feature_names) + int(SIZE_INPUT in surrogate.feature_names)
    compiled = CompiledTrees(boosters, n_task)
    X = _odd_rows(compiled.n_features, 400, seed=len(path.stem))
    np.testing.assert_allclose(compiled.predict_rows(X), _lightgbm(boosters, X), rtol=0, atol=1e-12)
    # The serving split: one task's masks against many configs' masks.
    task = compiled.task_masks(X[0, :n_task])[0]
    configs = compiled.config_masks(X[:, n_task:])
    rows = np.hstack([np.tile(X[0, :n_task], (len(X), 1)), X[:, n_task:]])
    np.testing.assert_allclose(
        compiled.predict(task, configs), _lightgbm(boosters, rows), rtol=0, atol=1e-12
    )
    assert compiled.mask_type is np.uint64  # trees of up to 63 leaves: eight bytes per mask


def _train(
    params: dict[str, object], X: np.ndarray, y: np.ndarray, categorical: list[int]
) -> lgb.Booster:
    data = lgb.Dataset(X, label=y, categorical_feature=categorical, params={"verbosity": -1})
    return lgb.train({"objective": "regression", "verbosity": -1, **params}, data, 30)


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 7},
        {"num_leaves": 31, "zero_as_missing": True},
        {"num_leaves": 64, "min_data_in_leaf": 2, "use_missing": False},
        {"num_leaves": 5, "max_cat_to_onehot": 1, "min_data_per_group": 1, "cat_smooth": 0},
    ],
    ids=["small", "zero-missing", "64-leaves", "many-categories"],
)
def test_every_missing_value_rule_and_split_kind_matches(params: dict[str, object]) -> None:
    rng = np.random.default_rng(3)
    X = _odd_rows(8, 3000, seed=4)
    X[:, 3] = rng.integers(0, 30, size=len(X))  # a categorical with many codes
    X[rng.random(len(X)) < 0.1, 3] = np.nan
    y = np.nan_to_num(X[:, 1]) * 2 + (np.nan_to_num(X[:, 3]) % 7) + np.isnan(X[:, 2]) * 3
    y += rng.normal(scale=0.1, size=len(X))
    booster = _train(params, X, y, categorical=[0, 3])
    kinds = {node["missing_type"] for node in _nodes(booster)}
    compiled = CompiledTrees([booster], 4)
    test = _odd_rows(8, 500, seed=5)
    test[:, 3] = rng.integers(-2, 40, size=len(test)) + rng.random(len(test)) * 0.9
    np.testing.assert_allclose(
        compiled.predict_rows(test), _lightgbm([booster], test), rtol=0, atol=1e-12
    )
    if params.get("zero_as_missing"):
        assert "Zero" in kinds


def _nodes(booster: lgb.Booster) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []

    def walk(node: dict[str, object]) -> None:
        if "split_feature" in node:
            out.append(node)
            walk(node["left_child"])  # type: ignore[arg-type]
            walk(node["right_child"])  # type: ignore[arg-type]

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return out


def test_what_cannot_be_compiled_is_refused_with_the_reason() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2000, 4)), rng.normal(size=2000)
    wide = _train({"num_leaves": 128, "min_data_in_leaf": 1}, X, y, [])
    with pytest.raises(FailedPreconditionError, match="at most 64"):
        CompiledTrees([wide], 2)
    data = lgb.Dataset(X, label=(y > 0).astype(float), params={"verbosity": -1})
    binary = lgb.train({"objective": "binary", "verbosity": -1}, data, 5)
    with pytest.raises(FailedPreconditionError, match="only regression"):
        CompiledTrees([binary], 2)
    with pytest.raises(InvalidRequestError, match=r"num_leaves must be in \[2, 64\]"):
        SurrogateParams(num_leaves=100).check()


def test_scores_and_fit_seconds_in_one_pass_equal_the_separate_calls() -> None:
    bundle = load_bundle(SHIPPED[0])
    compiled = bundle.surrogate.compile(len(bundle.index.feature_names))
    assert compiled.has_fit_time
    X = _odd_rows(compiled.trees.n_features, 50, seed=3)
    n_task = compiled.trees.n_task_features
    task = compiled.task(X[0, :n_task])
    configs = compiled.configs(X[:, n_task:])
    scores, seconds = compiled.scores_and_fit_seconds(task, configs)
    np.testing.assert_array_equal(scores, compiled.scores(task, configs))
    np.testing.assert_array_equal(seconds, compiled.fit_seconds(task, configs))
    assert scores.shape == (compiled.n_members, 50)
    empty, no_seconds = compiled.scores_and_fit_seconds(task, configs[:0])
    assert empty.shape == (compiled.n_members, 0)
    assert no_seconds.shape == (0,)
