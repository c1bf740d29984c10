"""Expected improvement of the worlds' prior corrected by the task's observations."""

from __future__ import annotations

import numpy as np

from warmstart.metamodel.recommend._residual import residual_picks

GRID = np.linspace(0.0, 1.0, 101)[:, None]


def _task(x: np.ndarray) -> np.ndarray:
    """The task's scores: a single peak at 0.8."""
    return np.asarray(-((x[:, 0] - 0.8) ** 2), dtype=float)


def test_a_prior_that_ranks_the_task_well_is_followed() -> None:
    prior = _task(GRID) * 3.0 + 5.0  # another scale, the same order
    seen = np.array([[0.1], [0.3], [0.5]])
    picks = residual_picks(prior[[10, 30, 50]], _task(seen), seen, prior, GRID, 1)
    assert abs(GRID[picks[0], 0] - 0.8) <= 0.05


def test_a_prior_that_ranks_the_task_backwards_is_dropped() -> None:
    prior = -_task(GRID)  # best at 0 and 1, worst at 0.8
    at = [0, 20, 40, 60, 70, 90, 100]
    seen = GRID[at]
    picks = residual_picks(prior[at], _task(seen), seen, prior, GRID, 1)
    # The process alone models the task: the pick is near the best observation (0.7 and
    # 0.9 around the peak), not at the prior's best ends.
    assert 0.6 <= GRID[picks[0], 0] <= 0.95


def test_several_picks_are_distinct_allowed_and_spread() -> None:
    prior = _task(GRID)
    seen = np.array([[0.1], [0.5]])
    allowed = np.ones(len(GRID), dtype=bool)
    allowed[80] = False
    picks = residual_picks(prior[[10, 50]], _task(seen), seen, prior, GRID, 4, allowed)
    assert len(set(picks)) == 4
    assert 80 not in picks
    # Each pick is counted as observed before the next: they do not pile up on one point.
    assert np.ptp(GRID[picks, 0]) >= 0.02


def test_scores_on_any_scale_and_inactive_parameters_are_handled() -> None:
    grid = np.hstack([GRID, np.where(GRID > 0.5, np.nan, GRID)])  # second inactive above 0.5
    prior = _task(GRID)
    at = [10, 50, 60]
    seen = grid[at]
    scaled = 1e6 * _task(GRID[at]) - 3e7
    picks = residual_picks(prior[at], scaled, seen, prior, grid, 2, widths=np.array([1.0, 2.0]))
    assert len(set(picks)) == 2
    assert all(0.7 <= GRID[p, 0] <= 0.9 for p in picks)


def test_equal_scores_give_an_answer() -> None:
    seen = np.array([[0.2], [0.4]])
    picks = residual_picks(np.zeros(2), np.ones(2), seen, _task(GRID), GRID, 2)
    assert len(set(picks)) == 2


def test_without_exploring_the_corrected_mean_decides() -> None:
    """A prior whose best is off by 0.2: observations near the true peak correct it, and
    the corrected mean's best is picked (not a far, uncertain candidate)."""
    prior = -((GRID[:, 0] - 0.6) ** 2)
    at = [50, 60, 70, 75, 85, 90]
    seen = GRID[at]
    picks = residual_picks(prior[at], _task(seen), seen, prior, GRID, 1, explore=False)
    assert 0.7 <= GRID[picks[0], 0] <= 0.9
