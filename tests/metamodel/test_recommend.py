"""Surrogate, recommender and bundle on a world where the best config follows the task.

Each task has four meta-features; the best ``log10(C)`` is a linear function of
the first, and the best kernel depends on the second. A model that learns this
must beat the library default and random configs on tasks it has not seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.metamodel.synthetic_world import CS, FAST, NAMES, SPACE, features, true_score, world
from warmstart.metamodel.bundle import ModelBundle, load_bundle, train_from_records
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.recommend import MAX_K, Recommender, RecommenderSettings
from warmstart.metamodel.spaces import (
    config_hash,
    default_config,
    sample_configs,
    validate_config,
)
from warmstart.metamodel.surrogate import normalise_scores
from warmstart.metamodel.types import (
    SuggestionOrigin,
)


@pytest.fixture(scope="module")
def trained() -> ModelBundle:
    tasks, records = world(40, seed=1)
    names = {t: t for t in tasks}
    return train_from_records(SPACE, records, features(tasks), names, "test-1", FAST)


@pytest.fixture(scope="module")
def recommender(trained: ModelBundle) -> Recommender:
    """One recommender of the trained bundle for many requests, as a server holds it
    (building one compiles the surrogate's trees: seconds, not worth paying per request)."""
    return trained.recommender()


def test_rank_normalisation_is_robust_to_a_diverged_score() -> None:
    assert list(normalise_scores([0.5, 0.7, -1e6, 0.9])) == pytest.approx([1 / 3, 2 / 3, 0, 1])
    assert list(normalise_scores([1.0, 3.0], "minmax")) == [0.0, 1.0]


def test_suggestions_beat_default_and_random_on_unseen_tasks(recommender: Recommender) -> None:
    new_tasks, _ = world(12, seed=99)
    rng = np.random.default_rng(0)
    ours, default, random_ = [], [], []
    for f in new_tasks.values():
        top = recommender.suggest(dict(zip(NAMES, f, strict=True)), k=1).suggestions[0]
        ours.append(true_score(dict(top.config), f))
        default.append(true_score(default_config(CS), f))
        picks = sample_configs(CS, 10, method="random", seed=int(rng.integers(1000)))
        random_.append(np.mean([true_score(c, f) for c in picks]))
    assert np.mean(ours) > np.mean(default) + 0.05
    assert np.mean(ours) > np.mean(random_) + 0.1


def test_k_suggestions_are_valid_distinct_and_explained(recommender: Recommender) -> None:
    result = recommender.suggest(dict(zip(NAMES, [0.3, 0.8, 0.5, 0.5], strict=True)), k=8)
    assert len(result.suggestions) == 8
    assert len({config_hash(s.config) for s in result.suggestions}) == 8
    for suggestion in result.suggestions:
        assert validate_config(CS, suggestion.config) == dict(suggestion.config)
        assert suggestion.uncertainty >= 0
        assert suggestion.predicted_fit_seconds >= 0
        assert isinstance(suggestion.origin, SuggestionOrigin)
        assert len(suggestion.nearest_tasks) == 5
    assert not result.out_of_distribution


def test_excluded_configs_are_not_suggested_again(recommender: Recommender) -> None:
    task = dict(zip(NAMES, [0.6, 0.2, 0.5, 0.5], strict=True))
    first = recommender.suggest(task, k=3).suggestions
    again = recommender.suggest(task, k=3, exclude=[s.config for s in first]).suggestions
    assert not {config_hash(s.config) for s in first} & {config_hash(s.config) for s in again}


def test_fit_time_constraint_is_respected(recommender: Recommender) -> None:
    task = dict(zip(NAMES, [0.9, 0.2, 0.5, 0.5], strict=True))  # wants a large C: slow
    limit = 0.7
    for suggestion in recommender.suggest(task, k=5, max_fit_seconds=limit).suggestions:
        assert suggestion.predicted_fit_seconds <= limit
    with pytest.raises(FailedPreconditionError, match="no candidate is predicted to fit within"):
        recommender.suggest(task, k=5, max_fit_seconds=1e-9)


def test_far_away_task_is_flagged_and_gets_robust_configs(recommender: Recommender) -> None:
    result = recommender.suggest(dict(zip(NAMES, [40.0, -30.0, 9.0, 9.0], strict=True)), k=4)
    assert result.out_of_distribution
    robust = {SuggestionOrigin.DEFAULT, SuggestionOrigin.PORTFOLIO, SuggestionOrigin.NEIGHBOUR}
    assert {s.origin for s in result.suggestions} <= robust


class _CountingScorer:
    """Wraps the compiled surrogate and counts the configs it scores for the task."""

    def __init__(self, compiled: Any) -> None:
        self.compiled, self.rows = compiled, 0
        self.n_members = compiled.n_members

    def scores(self, task: np.ndarray, configs: np.ndarray) -> np.ndarray:
        self.rows += len(configs)
        return np.asarray(self.compiled.scores(task, configs))

    def scores_and_fit_seconds(
        self, task: np.ndarray, configs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        self.rows += len(configs)
        scores, seconds = self.compiled.scores_and_fit_seconds(task, configs)
        return np.asarray(scores), np.asarray(seconds)

    def scores_and_fit_seconds_many(
        self, tasks: np.ndarray, configs: Sequence[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        self.rows += sum(len(c) for c in configs)
        return list(self.compiled.scores_and_fit_seconds_many(tasks, configs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled, name)


def test_world_table_holds_the_ensembles_predictions_per_training_task(
    trained: ModelBundle, recommender: Recommender
) -> None:
    table = recommender.table
    for task_id in trained.index.task_ids[:5]:
        meta = trained.index.training_vector(task_id)
        rows = np.hstack([np.tile(meta, (len(table.fixed.encoded), 1)), table.fixed.encoded])
        direct = np.vstack([m.predict(rows) for m in trained.surrogate.members])
        assert table.world(task_id) == pytest.approx(direct, abs=1e-12)
        assert table.means[trained.index.row(task_id)] == pytest.approx(direct.mean(axis=0))


def test_a_request_scores_only_the_robust_and_the_screened_candidates(
    trained: ModelBundle,
) -> None:
    settings = RecommenderSettings(n_screened=8)
    recommender = trained.recommender(settings)
    counting = _CountingScorer(recommender.compiled)
    recommender.compiled = cast(Any, counting)
    recommender.suggest(dict(zip(NAMES, [0.3, 0.8, 0.5, 0.5], strict=True)), k=5)
    # The default, the neighbours' best and the 8 screened (the portfolio is screened too).
    bound = 1 + settings.n_neighbours * settings.best_per_neighbour + 8
    assert 0 < counting.rows <= bound
    # Without screening every one of the samples is scored for the task.
    unscreened = trained.recommender(RecommenderSettings(n_screened=0))
    counting = _CountingScorer(unscreened.compiled)
    unscreened.compiled = cast(Any, counting)
    unscreened.suggest(dict(zip(NAMES, [0.3, 0.8, 0.5, 0.5], strict=True)), k=5)
    assert counting.rows >= settings.n_samples


def test_suggestions_carry_lightgbms_own_predictions(trained: ModelBundle) -> None:
    """The compiled trees serve, but the numbers are the boosters' predict()."""
    recommender = trained.recommender(RecommenderSettings(n_refine_from=4))
    task = dict(zip(NAMES, [0.3, 0.8, 0.5, 0.5], strict=True))
    result = recommender.suggest(task, k=8, max_fit_seconds=1e6)
    meta = trained.index.vector(task)
    encoded = recommender.encoder.encode([dict(s.config) for s in result.suggestions])
    rows = np.hstack([np.tile(meta, (len(encoded), 1)), encoded])
    mean, spread = trained.surrogate.predict(rows)
    assert [s.predicted_score for s in result.suggestions] == pytest.approx(mean, abs=1e-12)
    assert [s.uncertainty for s in result.suggestions] == pytest.approx(spread, abs=1e-12)
    fit = trained.surrogate.predict_fit_seconds(rows)
    assert [s.predicted_fit_seconds for s in result.suggestions] == pytest.approx(fit, rel=1e-9)


def test_screening_keeps_the_suggestions_good(trained: ModelBundle) -> None:
    screened = trained.recommender(RecommenderSettings(n_screened=16))
    full = trained.recommender(RecommenderSettings(n_screened=0, n_refine_from=8))
    new_tasks, _ = world(12, seed=98)
    ours, everything = [], []
    for f in new_tasks.values():
        task = dict(zip(NAMES, f, strict=True))
        ours.append(
            max(true_score(dict(s.config), f) for s in screened.suggest(task, 3).suggestions)
        )
        everything.append(
            max(true_score(dict(s.config), f) for s in full.suggest(task, 3).suggestions)
        )
    assert np.mean(ours) >= np.mean(everything) - 0.02


def test_the_set_choice_is_one_swappable_step(trained: ModelBundle) -> None:
    """Whatever the set choice picks is what is suggested, in its order."""
    recommender = trained.recommender()
    seen: list[int] = []

    def first_candidates(requests: Sequence[Any]) -> list[list[int]]:
        seen.extend(request.k for request in requests)
        return [list(range(request.k)) for request in requests]

    recommender.set_choice = first_candidates
    task = dict(zip(NAMES, [0.3, 0.8, 0.5, 0.5], strict=True))
    got = recommender.suggest(task, k=3).suggestions
    assert seen == [3]
    # The candidates start with the library default, then the robust ones.
    assert got[0].origin is SuggestionOrigin.DEFAULT
    assert dict(got[0].config) == default_config(CS)
    assert len({config_hash(dict(s.config)) for s in got}) == 3


def test_refinements_are_valid_and_marked(trained: ModelBundle) -> None:
    recommender = trained.recommender(RecommenderSettings(n_refine_from=8, n_refine_each=8))
    result = recommender.suggest(dict(zip(NAMES, [0.3, 0.8, 0.5, 0.5], strict=True)), k=40)
    assert SuggestionOrigin.REFINEMENT in {s.origin for s in result.suggestions}
    for suggestion in result.suggestions:
        assert validate_config(CS, suggestion.config) == dict(suggestion.config)


@pytest.mark.parametrize(
    ("features", "k", "message"),
    [
        ({"f0": 0.5}, 0, "k must be an integer in [1, 100]"),
        ({"f0": 0.5}, MAX_K + 1, "k must be an integer"),
        ({"f0": 0.5, "bogus": 1.0}, 3, "unknown meta-feature name(s): bogus"),
        ({"f0": math.inf}, 3, "must be finite or NaN"),
        ({"f0": math.nan}, 3, "every meta-feature is missing"),
    ],
)
def test_bad_requests_say_what_is_allowed(
    recommender: Recommender, features: dict[str, float], k: int, message: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        recommender.suggest(features, k=k)
    assert message in str(info.value)


@settings(max_examples=25, deadline=None)
@given(
    f=st.lists(st.floats(-5, 5) | st.just(float("nan")), min_size=4, max_size=4).filter(
        lambda v: not all(math.isnan(x) for x in v)
    ),
    k=st.integers(1, 12),
)
def test_every_suggestion_is_valid_for_any_task(
    recommender: Recommender, f: list[float], k: int
) -> None:
    result = recommender.suggest(dict(zip(NAMES, f, strict=True)), k=k)
    assert 1 <= len(result.suggestions) <= k
    for suggestion in result.suggestions:
        assert validate_config(CS, suggestion.config) == dict(suggestion.config)


def test_training_is_deterministic_for_a_seed() -> None:
    tasks, records = world(12, seed=5)
    args = (SPACE, records, features(tasks), {t: t for t in tasks}, "test-1", FAST)
    a, b = train_from_records(*args), train_from_records(*args)
    assert a.surrogate.to_dict() == b.surrogate.to_dict()
    assert a.portfolio == b.portfolio


def test_bundle_round_trip(trained: ModelBundle, tmp_path: Path) -> None:
    path = tmp_path / "model.wsb"
    digest = trained.save(path)
    assert len(digest) == 64
    loaded = load_bundle(path, feature_version="test-1", spaces={SPACE.name: SPACE.space_id})
    assert loaded.version == trained.version
    task = dict(zip(NAMES, [0.2, 0.9, 0.1, 0.4], strict=True))
    assert [s.config for s in loaded.recommender().suggest(task, k=3).suggestions] == [
        s.config for s in trained.recommender().suggest(task, k=3).suggestions
    ]


def test_a_bundle_of_two_tasks_saves_and_loads(tmp_path: Path) -> None:
    # Too few tasks for an out-of-distribution threshold: it is infinite, stored as null.
    tasks, records = world(2, seed=3)
    bundle = train_from_records(
        SPACE, records, features(tasks), {t: t for t in tasks}, "test-1", FAST
    )
    assert math.isinf(bundle.index.ood_threshold)
    bundle.save(tmp_path / "two.wsb")
    loaded = load_bundle(tmp_path / "two.wsb", feature_version="test-1")
    assert math.isinf(loaded.index.ood_threshold)
    task = dict(zip(NAMES, [0.2, 0.9, 0.1, 0.4], strict=True))
    assert not loaded.recommender().suggest(task, k=2).out_of_distribution


def test_bundle_refuses_a_wrong_feature_version(trained: ModelBundle, tmp_path: Path) -> None:
    path = tmp_path / "model.wsb"
    trained.save(path)
    with pytest.raises(
        FailedPreconditionError, match="uses meta-features 'test-1', this warmstart computes 'mf-9'"
    ):
        load_bundle(path, feature_version="mf-9")


def test_bundle_refuses_another_version_of_the_space(trained: ModelBundle, tmp_path: Path) -> None:
    path = tmp_path / "model.wsb"
    trained.save(path)
    with pytest.raises(FailedPreconditionError, match="served space 'svm_like' is version 0000"):
        load_bundle(path, spaces={SPACE.name: "0000"})


def test_bundle_refuses_a_tampered_space_and_a_non_bundle(
    trained: ModelBundle, tmp_path: Path
) -> None:
    import gzip
    import json

    path = tmp_path / "model.wsb"
    trained.save(path)
    data = json.loads(gzip.decompress(path.read_bytes()))
    data["space"]["definition"] = data["space"]["definition"].replace(
        '"upper":1000.0', '"upper":999.0'
    )
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(FailedPreconditionError, match="does not match its definition"):
        load_bundle(path)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(InvalidRequestError, match="not a warmstart model bundle"):
        load_bundle(other)
    with pytest.raises(InvalidRequestError, match="no model bundle at"):
        load_bundle(tmp_path / "missing.wsb")
