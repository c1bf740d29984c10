"""The compiled trees give LightGBM's own predictions, on the shipped bundles and on odd inputs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.metamodel.synthetic_world import NAMES, SPACE, features, world
from warmstart.metamodel.bundle import ModelBundle, TrainSettings, load_bundle, train_from_records
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.recommend import Recommendation
from warmstart.metamodel.surrogate import (
    SIZE_INPUT,
    CompiledSurrogate,
    CompiledTrees,
    Surrogate,
    SurrogateParams,
)
from warmstart.metamodel.types import Observation

SHIPPED = sorted((Path(__file__).parents[2] / "kb" / "models").glob("*.wsb"))
SHIPPED_LIGHTGBM = Path(__file__).parents[2] / "kb" / "models" / "lightgbm.wsb"


def _n_task(bundle: ModelBundle) -> int:
    """The surrogate's task-side inputs: the meta-features, then the training size where the
    surrogate takes it."""
    return len(bundle.index.feature_names) + int(SIZE_INPUT in bundle.surrogate.feature_names)


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
    n_task = _n_task(bundle)
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
    # The narrowest mask that holds the largest tree's leaves (up to 63: eight bytes; a
    # surrogate whose leaves must hold many rows grows smaller trees).
    most = max(
        int(n) for b in boosters for n in re.findall(r"(?m)^num_leaves=(\d+)$", b.model_to_string())
    )
    bits = np.iinfo(compiled.mask_type).bits
    assert most <= bits
    assert bits == 8 or most > bits // 2


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
    averaged = _train({"boosting": "rf", "bagging_fraction": 0.5, "bagging_freq": 1}, X, y, [])
    with pytest.raises(FailedPreconditionError, match="summed boosters"):
        CompiledTrees([averaged], 2)
    linear = _train({"linear_tree": True, "num_leaves": 4}, X, y, [])
    with pytest.raises(FailedPreconditionError, match="linear trees"):
        CompiledTrees([linear], 2)
    four, three = (_train({"num_leaves": 4}, X[:, :n], y, []) for n in (4, 3))
    with pytest.raises(FailedPreconditionError, match="same inputs"):
        CompiledTrees([four, three], 2)
    with pytest.raises(InvalidRequestError, match=r"num_leaves must be in \[2, 64\]"):
        SurrogateParams(num_leaves=100).check()


def test_trees_of_one_leaf_are_compiled_to_their_value() -> None:
    # A target that nothing explains after the first rounds: later trees are single leaves.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = np.where(X[:, 0] > 0, 1.0, 0.0)
    booster = _train({"num_leaves": 4, "min_data_in_leaf": 200, "learning_rate": 1.0}, X, y, [])
    assert any(t["num_leaves"] == 1 for t in booster.dump_model()["tree_info"])
    compiled = CompiledTrees([booster], 2)
    rows = _odd_rows(4, 200, seed=3)
    np.testing.assert_allclose(
        compiled.predict_rows(rows), _lightgbm([booster], rows), rtol=0, atol=1e-12
    )


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


def _splits_on_task(booster: lgb.Booster, n_task: int) -> list[bool]:
    """For each tree of ``booster``: whether a split tests one of the first ``n_task`` inputs."""
    found = []
    for tree in booster.dump_model()["tree_info"]:
        stack, on_task = [tree["tree_structure"]], False
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                on_task = on_task or int(node["split_feature"]) < n_task
                stack += [node["left_child"], node["right_child"]]
        found.append(on_task)
    return found


def test_the_trees_a_request_evaluates_are_those_that_split_on_the_task() -> None:
    bundle = load_bundle(SHIPPED_LIGHTGBM)
    surrogate = bundle.surrogate
    assert surrogate.fit_time is not None
    n_task = _n_task(bundle)
    boosters = [*surrogate.members, surrogate.fit_time]
    compiled = CompiledTrees(boosters, n_task)
    on_task = np.concatenate([_splits_on_task(b, n_task) for b in boosters])
    np.testing.assert_array_equal(compiled.task_trees, np.flatnonzero(on_task))
    # Two-stage members: the config-only stage is each member's first trees; the fit-time
    # model has none.
    rounds = surrogate.params.config_rounds
    assert rounds > 0
    for member in surrogate.members:
        assert _splits_on_task(member, n_task) == [False] * rounds + [True] * (
            member.num_trees() - rounds
        )
    assert all(_splits_on_task(surrogate.fit_time, n_task))
    assert len(CompiledTrees(boosters, n_task, fold=False).task_trees) == compiled.n_trees


def test_trees_without_task_splits_anywhere_in_a_booster_are_folded() -> None:
    # Few features per tree: some trees split only on the config side, between others.
    rng = np.random.default_rng(7)
    X = _odd_rows(8, 3000, seed=8)
    X[:, 5] = rng.integers(0, 6, size=len(X))
    y = np.nan_to_num(X[:, 0]) + 2 * np.nan_to_num(X[:, 6]) + (np.nan_to_num(X[:, 5]) == 2)
    booster = _train({"num_leaves": 7, "feature_fraction": 0.25}, X, y, categorical=[5])
    on_task = np.array(_splits_on_task(booster, 4))
    folded = np.flatnonzero(~on_task)
    assert len(folded) > 2
    assert on_task[: folded[-1]].any()  # not only leading trees: between the others
    compiled = CompiledTrees([booster], 4)
    np.testing.assert_array_equal(compiled.task_trees, np.flatnonzero(on_task))
    test = _odd_rows(8, 500, seed=9)
    np.testing.assert_allclose(
        compiled.predict_rows(test), _lightgbm([booster], test), rtol=0, atol=1e-12
    )


def _one_stage_bundle() -> tuple[ModelBundle, list[dict[str, float]]]:
    """A small bundle boosted in one stage over task and config, and tasks it has not seen."""
    tasks, records = world(30, seed=5)
    params = SurrogateParams(n_models=3, n_estimators=60, min_child_samples=5, config_rounds=0)
    settings = TrainSettings(surrogate=params, validation_folds=0)
    bundle = train_from_records(
        SPACE, records, features(tasks), {t: t for t in tasks}, "test-1", settings
    )
    unseen, _ = world(6, seed=50)
    return bundle, [dict(zip(NAMES, map(float, f), strict=True)) for f in unseen.values()]


def _kb_bundle() -> tuple[ModelBundle, list[dict[str, float]]]:
    """The shipped LightGBM bundle (two-stage) and six knowledge-base tasks."""
    rows = pq.read_table(SHIPPED_LIGHTGBM.parents[1] / "pmlb_features.parquet").to_pylist()
    described = [r for r in rows if r["version"] == FEATURE_VERSION]  # not the probe scores
    tasks = [dict(zip(r["names"], r["values"], strict=True)) for r in described[::37]]
    return load_bundle(SHIPPED_LIGHTGBM), tasks


def _same_suggestions(got: Recommendation, want: Recommendation) -> None:
    assert [s.config for s in got.suggestions] == [s.config for s in want.suggestions]
    assert [s.origin for s in got.suggestions] == [s.origin for s in want.suggestions]
    assert got.out_of_distribution == want.out_of_distribution
    for field in ("predicted_score", "uncertainty", "predicted_fit_seconds"):
        np.testing.assert_allclose(
            [getattr(s, field) for s in got.suggestions],
            [getattr(s, field) for s in want.suggestions],
            rtol=0,
            atol=1e-9,
        )


@pytest.mark.parametrize("make", [_kb_bundle, _one_stage_bundle], ids=["shipped", "one-stage"])
def test_folding_the_config_only_trees_changes_no_score_and_no_suggestion(
    make: Callable[[], tuple[ModelBundle, list[dict[str, float]]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle, tasks = make()
    folded = bundle.recommender()
    with monkeypatch.context() as patch:  # the reference: every tree on every request
        patch.setattr(
            Surrogate,
            "compile",
            lambda self, n: CompiledSurrogate(self.members, self.fit_time, n, fold=False),
        )
        reference = bundle.recommender()
    trees = reference.compiled.trees
    assert len(trees.task_trees) == trees.n_trees
    assert len(folded.compiled.trees.task_trees) < trees.n_trees
    # The world table: every known config on every training task.
    np.testing.assert_allclose(folded.table.scores, reference.table.scores, rtol=0, atol=1e-9)
    masks, base = folded.table.fixed.masks, reference.table.fixed.masks
    for meta in tasks:
        task = folded.compiled.task(folded.task_input(meta))
        base_task = reference.compiled.task(reference.task_input(meta))
        for got, want in zip(
            folded.compiled.scores_and_fit_seconds(task, masks),
            reference.compiled.scores_and_fit_seconds(base_task, base),
            strict=True,
        ):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        for k in (1, 5, 10):
            _same_suggestions(folded.suggest(meta, k), reference.suggest(meta, k))
        _same_suggestions(
            folded.suggest(meta, 3, train_rows=500, max_fit_seconds=2.0),
            reference.suggest(meta, 3, train_rows=500, max_fit_seconds=2.0),
        )
        first = [s.config for s in reference.suggest(meta, 3).suggestions]
        told = [Observation(c, score) for c, score in zip(first, (0.9, 0.7, 0.8), strict=True)]
        _same_suggestions(
            folded.suggest(meta, 5, observations=told),
            reference.suggest(meta, 5, observations=told),
        )


def test_several_tasks_scored_together_get_the_numbers_of_one_call_each() -> None:
    bundle = load_bundle(SHIPPED_LIGHTGBM)
    compiled = bundle.surrogate.compile(_n_task(bundle))
    X = _odd_rows(compiled.trees.n_features, 30, seed=11)
    n_task = compiled.trees.n_task_features
    tasks = compiled.tasks(X[:4, :n_task])
    configs = compiled.configs(X[:, n_task:])
    sets = [configs[:10], configs[:0], configs[10:], configs[5:6]]
    together = compiled.scores_and_fit_seconds_many(tasks, sets)
    assert len(together) == len(sets)
    for task, masks, (scores, seconds) in zip(tasks, sets, together, strict=True):
        alone_scores, alone_seconds = compiled.scores_and_fit_seconds(task, masks)
        np.testing.assert_array_equal(scores, alone_scores)
        np.testing.assert_array_equal(seconds, alone_seconds)
        assert scores.shape == (compiled.n_members, len(masks))
    with pytest.raises(ValueError, match="4 tasks but 3 config sets"):
        compiled.scores_and_fit_seconds_many(tasks, sets[:3])
