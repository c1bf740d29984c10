"""Suggestions that use the task's observations (the ask/tell loop's answers).

On the synthetic world the best ``log10(C)`` follows the first meta-feature and
the best kernel the second. A task that *claims* one set of meta-features but
scores configs like another exposes a recommender that ignores what it observed.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tests.metamodel.synthetic_world import CS, FAST, NAMES, SPACE, features, true_score, world
from warmstart.metamodel.bundle import ModelBundle, train_from_records
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.recommend import RecommenderSettings
from warmstart.metamodel.recommend._candidates import space_samples
from warmstart.metamodel.recommend._observed import (
    concordance,
    improvement_picks,
    sampled_picks,
    stalled,
)
from warmstart.metamodel.recommend._settings import OBSERVED_CHOICES
from warmstart.metamodel.spaces import config_hash, sample_configs, validate_config
from warmstart.metamodel.types import Observation, SuggestionOrigin


@pytest.fixture(scope="module")
def trained() -> ModelBundle:
    tasks, records = world(40, seed=1)
    return train_from_records(SPACE, records, features(tasks), {t: t for t in tasks}, "t", FAST)


def _claims(f: list[float]) -> dict[str, float]:
    return dict(zip(NAMES, f, strict=True))


def test_concordance_counts_pairs_ordered_as_the_scores() -> None:
    observed = np.array([0.1, 0.5, 0.9])
    predicted = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 1.0, 2.0]])
    shares = concordance(predicted, observed)
    assert shares is not None
    assert shares.tolist() == pytest.approx([1.0, 0.0, 2.5 / 3])
    assert concordance(predicted, np.array([0.5, 0.5, 0.5])) is None


def test_improvement_picks_spread_over_worlds_then_exploit_one() -> None:
    # Two worlds; the observed best is predicted 0.5 in both.
    per_world = np.array(
        [
            [0.9, 0.85, 0.4, 0.4],  # candidates 0 and 1 shine in world 0
            [0.4, 0.4, 0.8, 0.45],  # candidate 2 in world 1
        ]
    )
    best = np.array([0.5, 0.5])
    mean = per_world.mean(axis=0)
    # Equal weights: the first pick gains most in world 0; its near-copy 1 adds nothing
    # there, so world 1's best comes second; then nothing gains and the mean decides.
    assert improvement_picks(per_world, np.array([0.5, 0.5]), best, mean, 3) == [0, 2, 1]
    assert improvement_picks(per_world, np.array([0.5, 0.5]), best, mean - [0, 1, 0, 0], 3) == [
        0,
        2,
        3,
    ]
    # All the weight on world 0: its candidates in order, then ties by the mean.
    assert improvement_picks(per_world, np.array([1.0, 0.0]), best, mean, 3) == [0, 1, 2]
    # What is not allowed is never picked, and k is capped by what is.
    allowed = np.array([False, True, True, False])
    assert improvement_picks(per_world, np.array([0.5, 0.5]), best, mean, 4, allowed) == [1, 2]


def test_sampled_picks_take_each_drawn_worlds_best_untaken() -> None:
    per_world = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.9, 0.3]])
    mean = per_world.mean(axis=0)
    # All the weight on one world: its ranking, whatever the seed.
    assert sampled_picks(per_world, np.array([1.0, 0.0]), mean, 3, None, 5) == [0, 1, 2]
    assert sampled_picks(per_world, np.array([0.0, 1.0]), mean, 2, None, 5) == [2, 3]
    # Shared weight: over draws, both worlds' favourites come first at times.
    firsts = {
        sampled_picks(per_world, np.array([0.5, 0.5]), mean, 1, None, seed)[0] for seed in range(20)
    }
    assert firsts == {0, 2}
    allowed = np.array([False, True, False, True])
    assert sorted(sampled_picks(per_world, np.array([0.5, 0.5]), mean, 4, allowed, 0)) == [1, 3]


def _scored(*scores: float) -> list[Observation]:
    return [Observation({"C": 1.0}, s) for s in scores]


def test_stalled_counts_observations_since_the_first_best() -> None:
    assert not stalled(_scored(0.1, 0.5, 0.3), 2)
    assert stalled(_scored(0.1, 0.5, 0.3, 0.4), 2)
    # A tie with the best is no improvement.
    assert stalled(_scored(0.5, 0.5, 0.2), 2)
    assert not stalled(_scored(0.5), 1)
    assert not stalled(_scored(0.1, 0.2, 0.3, 0.4), 1)


@pytest.mark.parametrize("choice", ["own", "sample", "improvement"])
def test_a_stalled_loop_switches_choice(trained: ModelBundle, choice: str) -> None:
    task = _claims([0.4, 0.6, 0.5, 0.5])
    first = trained.recommender().suggest(task, k=10).suggestions
    # The first observation is the best by far: the loop has stalled for 9.
    seen = [Observation(s.config, 1.0 if i == 0 else 0.1 * (i % 3)) for i, s in enumerate(first)]
    base = RecommenderSettings(observed_from=2, observed_own_from=4)
    plain = trained.recommender(base).suggest(task, k=5, observations=seen)
    never = trained.recommender(replace(base, observed_stall=10, observed_stall_choice=choice))
    assert never.suggest(task, k=5, observations=seen) == plain
    switched = trained.recommender(replace(base, observed_stall=3, observed_stall_choice=choice))
    answer = switched.suggest(task, k=5, observations=seen)
    assert answer.observations == 10
    assert [s.config for s in answer.suggestions] != [s.config for s in plain.suggestions]
    assert not {config_hash(s.config) for s in answer.suggestions} & {
        config_hash(o.config) for o in seen
    }


# Observations weigh the worlds from the second on (the default waits for ten).
WEIGHING = RecommenderSettings(observed_from=2)


def test_observed_configs_are_never_suggested_and_are_counted(trained: ModelBundle) -> None:
    recommender = trained.recommender()
    task = _claims([0.6, 0.2, 0.5, 0.5])
    first = recommender.suggest(task, k=5).suggestions
    seen = [Observation(s.config, 0.1 * i) for i, s in enumerate(first)]
    answer = recommender.suggest(task, k=5, observations=seen)
    assert answer.observations == 5
    tried = {config_hash(s.config) for s in first}
    assert not tried & {config_hash(s.config) for s in answer.suggestions}
    assert len(answer.suggestions) == 5


def test_without_observations_the_answer_is_the_zero_shot_one(trained: ModelBundle) -> None:
    recommender = trained.recommender()
    task = _claims([0.3, 0.8, 0.5, 0.5])
    zero = recommender.suggest(task, k=4)
    assert zero.observations == 0
    assert recommender.suggest(task, k=4, observations=[]) == zero
    # Too few observations to weigh the worlds (fewer than observed_from, 10): the answer
    # continues the zero-shot set of 10, its tried members left out.
    ten = [s.config for s in recommender.suggest(task, k=10).suggestions]
    same = [Observation(c, 0.5) for c in ten[:2]]
    answer = recommender.suggest(task, k=2, observations=same)
    assert [s.config for s in answer.suggestions] == ten[2:4]
    assert answer.observations == 2


def test_below_observed_from_a_loop_walks_through_the_zero_shot_set(
    trained: ModelBundle,
) -> None:
    recommender = trained.recommender(RecommenderSettings(observed_from=6))
    task = _claims([0.6, 0.3, 0.5, 0.5])
    first = recommender.suggest(task, k=1).suggestions[0].config
    six = [s.config for s in recommender.suggest(task, k=6).suggestions]
    seen: list[Observation] = []
    for i in range(5):
        config = recommender.suggest(task, k=1, observations=seen).suggestions[0].config
        seen.append(Observation(config, float(i % 3)))
    # The zero-shot answer first, then the zero-shot set of observed_from in its order.
    assert [o.config for o in seen] == [first, *[c for c in six if c != first][:4]]
    # From observed_from on the observations weigh the worlds: nothing tried comes back.
    seen.append(
        Observation(recommender.suggest(task, k=1, observations=seen).suggestions[0].config, 1.5)
    )
    later = recommender.suggest(task, k=3, observations=seen)
    assert later.observations == 6
    tried = {config_hash(o.config) for o in seen}
    assert len(tried) == 6
    assert not tried & {config_hash(s.config) for s in later.suggestions}


@pytest.mark.parametrize("choice", OBSERVED_CHOICES)
def test_each_observed_choice_answers_k_untried_configs(trained: ModelBundle, choice: str) -> None:
    settings = RecommenderSettings(observed_from=2, observed_choice=choice)
    recommender = trained.recommender(settings)
    task = _claims([0.4, 0.6, 0.5, 0.5])
    first = recommender.suggest(task, k=4).suggestions
    seen = [Observation(s.config, float(i)) for i, s in enumerate(first)]
    answer = recommender.suggest(task, k=6, observations=seen)
    chosen = [config_hash(s.config) for s in answer.suggestions]
    assert len(set(chosen)) == 6
    assert not set(chosen) & {config_hash(s.config) for s in first}
    pool = [dict(s.config) for s in answer.suggestions]
    assert sorted(recommender.choose(task, pool, 6, observations=seen)) == list(range(6))


def test_observations_pull_the_suggestions_towards_the_task_they_come_from(
    trained: ModelBundle,
) -> None:
    """The task claims a small best C and a linear kernel but scores like a large C, rbf."""
    recommender = trained.recommender(WEIGHING)
    claimed = _claims([0.05, 0.1, 0.5, 0.5])
    actual = np.array([0.95, 0.9, 0.5, 0.5])
    zero = recommender.suggest(claimed, k=3).suggestions
    probes = sample_configs(CS, 8, method="random", seed=7)
    seen = [Observation(c, true_score(c, actual)) for c in probes]
    informed = recommender.suggest(claimed, k=3, observations=seen).suggestions
    zero_best = max(true_score(dict(s.config), actual) for s in zero)
    informed_best = max(true_score(dict(s.config), actual) for s in informed)
    probes_best = max(o.score for o in seen)
    assert informed_best > zero_best + 0.1
    assert informed_best >= probes_best - 0.02


def test_an_ask_tell_loop_improves_and_never_repeats(trained: ModelBundle) -> None:
    recommender = trained.recommender(WEIGHING)
    claimed = _claims([0.05, 0.1, 0.5, 0.5])
    actual = np.array([0.95, 0.9, 0.5, 0.5])
    seen: list[Observation] = []
    for _ in range(8):
        pick = recommender.suggest(claimed, k=1, observations=seen).suggestions[0]
        seen.append(Observation(pick.config, true_score(dict(pick.config), actual)))
    assert len({config_hash(o.config) for o in seen}) == 8
    assert max(o.score for o in seen[4:]) > max(o.score for o in seen[:2])


def test_pool_choice_uses_observations_too(trained: ModelBundle) -> None:
    recommender = trained.recommender(WEIGHING)
    claimed = _claims([0.05, 0.1, 0.5, 0.5])
    actual = np.array([0.95, 0.9, 0.5, 0.5])
    pool = sample_configs(CS, 60, method="random", seed=11)
    seen = [Observation(c, true_score(c, actual)) for c in pool[:8]]
    rest = pool[8:]
    zero = rest[recommender.choose(claimed, rest, 1)[0]]
    informed = rest[recommender.choose(claimed, rest, 1, observations=seen)[0]]
    assert true_score(informed, actual) > true_score(zero, actual)


def test_bad_observations_say_what_is_wrong(trained: ModelBundle) -> None:
    recommender = trained.recommender()
    task = _claims([0.5, 0.5, 0.5, 0.5])
    good = dict(recommender.suggest(task, k=1).suggestions[0].config)
    broken = {**good, "C": -1.0}
    with pytest.raises(InvalidRequestError, match="observation 1: score must be a finite"):
        recommender.suggest(
            task, k=1, observations=[Observation(good, 0.5), Observation(good, math.nan)]
        )
    with pytest.raises(InvalidRequestError, match=r"observation 1:.*'C'"):
        recommender.suggest(
            task, k=1, observations=[Observation(good, 0.5), Observation(broken, 0.2)]
        )
    with pytest.raises(InvalidRequestError, match="observed_sharpness"):
        RecommenderSettings(observed_sharpness=0.0)


def test_observed_search_draws_new_candidates_for_each_request(trained: ModelBundle) -> None:
    """Perturbations of the best observed configs and fresh samples of the whole space
    are new for each number of observations, so a loop keeps finding untried configs."""
    settings = RecommenderSettings(
        observed_from=2, n_samples=0, observed_refine_from=1, observed_refine_each=16
    )
    recommender = trained.recommender(settings)
    table = recommender.table.column
    claimed = _claims([0.05, 0.1, 0.5, 0.5])
    actual = np.array([0.95, 0.9, 0.5, 0.5])
    probes = sample_configs(CS, 6, method="random", seed=3)
    seen = [Observation(c, true_score(c, actual)) for c in probes]
    worse = Observation(sample_configs(CS, 1, method="random", seed=99)[0], -1.0)

    def refined(observations: list[Observation]) -> set[str]:
        answer = recommender.suggest(claimed, k=40, observations=observations)
        return {
            config_hash(s.config)
            for s in answer.suggestions
            if s.origin is SuggestionOrigin.REFINEMENT
        }

    # One more observation, worse than every other: the same best configs, new draws.
    first, second = refined(seen), refined([*seen, worse])
    assert first
    assert second
    assert first != second
    sampled = trained.recommender(replace(settings, observed_refine_from=0, observed_samples=64))
    answer = sampled.suggest(claimed, k=20, observations=seen)
    outside = [s for s in answer.suggestions if config_hash(s.config) not in table]
    assert outside
    assert all(s.origin is SuggestionOrigin.MODEL for s in outside)
    best = max(true_score(dict(s.config), actual) for s in answer.suggestions)
    assert best >= max(o.score for o in seen) - 0.05


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("observed_refine_each", 0),
        ("observed_samples", -1),
        ("observed_refine_scale", 0.0),
        ("observed_stall", -1),
        ("observed_stall_choice", "best"),
    ],
)
def test_observed_search_settings_are_checked(field: str, value: object) -> None:
    with pytest.raises(InvalidRequestError, match=field):
        RecommenderSettings(**{field: value})  # type: ignore[arg-type]


def test_space_samples_are_valid_configs_spread_over_the_space(trained: ModelBundle) -> None:
    recommender = trained.recommender()
    drawn = space_samples(recommender.encoder, recommender.compiled, 200, seed=5)
    assert len(drawn.configs) == 200
    assert len(set(drawn.hashes)) == 200
    for config in drawn.configs:
        assert validate_config(CS, config) == config
    assert {c["kernel"] for c in drawn.configs} == {"linear", "rbf", "poly"}
    # Conditional parameters appear exactly where their condition holds.
    assert all(("gamma" in c) == (c["kernel"] == "rbf") for c in drawn.configs)
    log_c = np.log10([float(c["C"]) for c in drawn.configs])
    # Uniform on the log scale of C: each quarter of its range holds about a quarter.
    low, high = -3.0, 3.0  # C in [1e-3, 1e3]
    counts = np.histogram(log_c, bins=4, range=(low, high))[0]
    assert counts.min() > 30
    again = space_samples(recommender.encoder, recommender.compiled, 200, seed=5)
    assert again.hashes == drawn.hashes
    other = space_samples(recommender.encoder, recommender.compiled, 200, seed=6)
    assert other.hashes != drawn.hashes
