"""The task as a Gaussian process whose covariance is how the training tasks differ."""

from __future__ import annotations

import numpy as np
import pytest

from warmstart.metamodel.recommend._kernel import MAX_FITTED, kernel_picks

N_CONFIGS = 40
SEEN = [5, 12, 20, 27]


def _worlds(seed: int = 0) -> np.ndarray:
    """Two kinds of task: half of them score configs rising with the index, half falling,
    each with its own noise; the worlds' mean is flat, so it knows no order."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, N_CONFIGS)
    rising = x[None, :] + rng.normal(0.0, 0.05, (30, N_CONFIGS))
    falling = 1.0 - x[None, :] + rng.normal(0.0, 0.05, (30, N_CONFIGS))
    return np.vstack([rising, falling])


def _picks(scores: np.ndarray, k: int = 1, **kwargs: object) -> list[int]:
    worlds = _worlds()
    prior = worlds.mean(axis=0)
    candidates = [i for i in range(N_CONFIGS) if i not in SEEN]
    picked = kernel_picks(
        worlds[:, SEEN], worlds[:, candidates], prior[SEEN], prior[candidates], scores, k,
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    return [candidates[i] for i in picked]


@pytest.mark.parametrize("explore", [False, True])
def test_the_observations_say_which_kind_of_task_it_is(explore: bool) -> None:
    rising = np.array([0.1, 0.3, 0.5, 0.7])
    assert _picks(rising, explore=explore)[0] >= N_CONFIGS - 3
    assert _picks(rising[::-1].copy(), explore=explore)[0] <= 2


def test_the_scores_scale_does_not_matter() -> None:
    scores = np.array([0.81, 0.84, 0.86, 0.9])
    assert _picks(scores, k=3, explore=True) == _picks(scores * 100 - 7, k=3, explore=True)


def test_several_picks_are_distinct_and_allowed() -> None:
    allowed = np.ones(N_CONFIGS - len(SEEN), dtype=bool)
    allowed[-1] = False  # the best candidate of a rising task
    picks = _picks(np.array([0.1, 0.3, 0.5, 0.7]), k=5, allowed=allowed, explore=False)
    assert len(set(picks)) == 5
    assert N_CONFIGS - 1 not in picks
    assert picks[0] == N_CONFIGS - 2


def test_scores_that_tell_no_kind_apart_leave_the_prior_in_charge() -> None:
    worlds = _worlds()
    prior = np.linspace(0.0, 1.0, N_CONFIGS)  # a prior that knows the order
    candidates = [i for i in range(N_CONFIGS) if i not in SEEN]
    picked = kernel_picks(
        worlds[:, SEEN], worlds[:, candidates], prior[SEEN], prior[candidates],
        np.full(len(SEEN), 0.5), 1, explore=False,
    )  # fmt: skip
    assert candidates[picked[0]] >= N_CONFIGS - 3


def test_mismatched_shapes_are_refused() -> None:
    worlds = _worlds()
    with pytest.raises(ValueError, match="do not match"):
        kernel_picks(
            worlds[:, SEEN], worlds[:, :10], worlds.mean(axis=0)[SEEN], np.zeros(9),
            np.zeros(len(SEEN)), 1, explore=False,
        )  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_what_no_world_explains_is_learned_on_the_encodings(seed: int) -> None:
    """The worlds are noise about a flat mean; the task peaks at x = 0.8 of one parameter."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.0, 1.0, 51)[:, None]
    worlds = rng.normal(0.5, 0.05, (40, len(grid)))
    at = [0, 10, 20, 30, 35, 45, 50]
    task = -((grid[:, 0] - 0.8) ** 2)
    prior = np.full(len(grid), 0.5)
    picks = kernel_picks(
        worlds[:, at], worlds, prior[at], prior, task[at], 1, explore=False,
        seen_x=grid[at], candidates_x=grid,
    )  # fmt: skip
    assert 0.7 <= grid[picks[0], 0] <= 0.9


def test_only_the_best_observations_are_fitted_past_the_cap() -> None:
    """Past MAX_FITTED observations only the best are fitted: the picks are those that
    the best MAX_FITTED alone give."""
    rng = np.random.default_rng(5)
    worlds = rng.normal(0.5, 0.1, (30, MAX_FITTED + 60))
    prior = worlds.mean(axis=0)
    seen = list(range(MAX_FITTED + 50))
    scores = rng.random(len(seen))
    order = np.argsort(-scores, kind="stable")[:MAX_FITTED]
    best_only = [seen[i] for i in order]
    candidates = list(range(MAX_FITTED + 50, MAX_FITTED + 60))
    args = (worlds[:, candidates], prior[seen], prior[candidates], scores, 3)
    picked = kernel_picks(worlds[:, seen], *args, explore=True)
    kept = kernel_picks(
        worlds[:, best_only], worlds[:, candidates], prior[best_only], prior[candidates],
        scores[order], 3, explore=True,
    )  # fmt: skip
    assert picked == kept
