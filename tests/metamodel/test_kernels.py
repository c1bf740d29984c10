"""The compiled greedy set choices against plain references, ties and forbidden columns included."""

from __future__ import annotations

import numpy as np
import pytest

from warmstart.metamodel.kernels import greedy_picks, local_greedy


def _reference(
    weighted: np.ndarray, first: np.ndarray, bias: np.ndarray, picks: int, has_first: bool
) -> list[list[int]]:
    """The greedy choice spelled out: each step takes the column with the largest sum over
    worlds of max(best so far, column), plus its bias; the first step maximises ``first``."""
    chosen = []
    for b in range(weighted.shape[0]):
        best = np.full(weighted.shape[1], -np.inf)
        gains = bias[b].copy()
        picked: list[int] = []
        for step in range(picks):
            if step == 0 and has_first:
                score = first[b].copy()
            else:
                score = np.maximum(weighted[b, 0], best[0])
                for w in range(1, weighted.shape[1]):  # world by world, in order
                    score = score + np.maximum(weighted[b, w], best[w])
                score = score + gains
            column = int(np.argmax(score))
            gains[column] = -np.inf
            best = np.maximum(best, weighted[b, :, column])
            picked.append(column)
        chosen.append(picked)
    return chosen


@pytest.mark.parametrize("has_first", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_greedy_picks_match_the_reference(seed: int, has_first: bool) -> None:
    rng = np.random.default_rng(seed)
    plans, worlds, width, picks = 1 + seed % 4, 3 + seed, 12 + 3 * seed, 2 + seed
    weighted = rng.random((plans, worlds, width)) * rng.random((plans, worlds, 1))
    weighted[:, :, 1] = weighted[:, :, 0]  # two configs predicted alike everywhere: a tie
    weighted[:, :, -2:] = -np.inf  # padding, as plans of fewer columns get
    first = weighted.sum(axis=1)
    bias = weighted.sum(axis=1) * 1e-9
    bias[:, 3] = -np.inf  # a config that may not be picked (a fit-time limit)
    if has_first:
        first[:, 3] = -np.inf
    expected = _reference(weighted, first, bias.copy(), picks, has_first)
    got = greedy_picks(weighted, first, bias, picks, has_first).tolist()
    assert got == expected
    for row in got:
        assert 3 not in row  # never the forbidden column
        assert len(set(row)) == len(row)  # never a column twice
        assert width - 1 not in row
        assert width - 2 not in row
        if 1 in row:  # of the tied pair the first comes first
            assert 0 in row
            assert row.index(0) < row.index(1)


def test_greedy_picks_nothing_when_asked_for_nothing() -> None:
    weighted = np.zeros((2, 3, 4))
    assert greedy_picks(weighted, np.zeros((2, 4)), np.zeros((2, 4)), 0, False).shape == (2, 0)


def _local_reference(
    values: np.ndarray, best: np.ndarray, taken: np.ndarray, rounds: list[int]
) -> list[list[int]]:
    """The local portfolio's greedy spelled out in numpy, as the rule did it: each round the
    column with the largest sum over neighbours of max(value - best, 0); first on ties."""
    chosen = []
    for r in range(values.shape[0]):
        top, free, picked = best[r].copy(), ~taken[r], []
        for _ in range(rounds[r]):
            gain = np.add.reduce(np.maximum(values[r] - top[:, None], 0.0), axis=0)
            gain[~free] = -np.inf
            column = int(np.argmax(gain))
            picked.append(column)
            free[column] = False
            top = np.maximum(top, values[r][:, column])
        chosen.append(picked)
    return chosen


@pytest.mark.parametrize("seed", range(6))
def test_local_greedy_matches_the_numpy_greedy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    requests, near, width = 1 + seed % 4, 4 + 3 * seed, 10 + 4 * seed
    values = np.round(rng.random((requests, near, width)), 2)  # rounded: exact ties happen
    values[:, :, 1] = values[:, :, 0]  # two configs measured alike everywhere: a tie
    values[:, -1, :] = 0.0  # a padded neighbour
    best = np.where(rng.random((requests, near)) < 0.3, 0.5, 0.0)  # the lead's scores
    taken = np.zeros((requests, width), dtype=bool)
    taken[:, -2:] = True  # padding: never picked
    taken[:, 3] = True  # already in the set
    rounds = [min(1 + seed + r, width - 3) for r in range(requests)]
    expected = _local_reference(values, best, taken, rounds)

    got = local_greedy(values, best.copy(), taken.copy(), np.array(rounds))

    for row, want, n in zip(got.tolist(), expected, rounds, strict=True):
        assert row[:n] == want
        assert all(column == -1 for column in row[n:])
        assert not {3, width - 2, width - 1} & set(want)
        if 1 in want:  # of the tied pair the first comes first
            assert want.index(0) < want.index(1)
