"""Compiled loops for the serving path: leaf masks, leaf sums and the greedy set choice.

A suggestion is a few hundred small array operations; in numpy each is a call with
its own temporaries, and under a server's load their per-call cost and cache misses
are most of a request's time. These loops do the same arithmetic in one pass each,
compiled by numba on first use (and cached beside this file, or in numba's user
cache where this folder is read-only).

Every kernel here gives exactly the numbers of the numpy code it replaced, but for
:func:`leaf_sums`, which adds each booster's trees in tree order where numpy's
``add.reduceat`` added them pairwise (the sums may differ in the last bit; the tests
compare them with ``Booster.predict`` to 1e-12).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import ParamSpec, cast

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

__all__ = ["greedy_picks", "leaf_sums", "local_greedy", "side_masks"]

_P = ParamSpec("_P")

ZERO_MISSING = 1
"""``_Splits.missing`` code of a node whose missing value is zero (LightGBM's "Zero")."""


def _compiled(function: Callable[_P, np.ndarray]) -> Callable[_P, np.ndarray]:
    """``numba.njit`` with an on-disk cache where one can be written, else without."""
    try:
        dispatcher = numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # no writable cache location (a read-only install and home)
        warnings.warn(
            f"numba cannot cache {function.__name__}: it is compiled anew in each process",
            RuntimeWarning,
            stacklevel=2,
        )
        dispatcher = numba.njit(nogil=True)(function)
    return cast(Callable[_P, np.ndarray], dispatcher)


@_compiled
def _side_masks(
    X: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    categorical: np.ndarray,
    missing: np.ndarray,
    default_left: np.ndarray,
    nan_left: np.ndarray,
    member: np.ndarray,
    tree: np.ndarray,
    left_leaves: np.ndarray,
    right_leaves: np.ndarray,
    all_leaves: np.ndarray,
    zero: float,
) -> np.ndarray:  # pragma: no cover - compiled; tested through side_masks
    n_rows, n_trees, width = X.shape[0], all_leaves.shape[0], member.shape[1]
    out = np.empty((n_rows, n_trees), dtype=all_leaves.dtype)
    excluded = np.zeros(n_trees, dtype=all_leaves.dtype)
    for r in range(n_rows):
        excluded[:] = 0
        for i in range(feature.shape[0]):
            value = X[r, feature[i]]
            if categorical[i]:
                # The code is the value truncated toward zero: in [0, width) exactly when
                # -1 < value < width (NaN compares False); no cast of inf or huge values.
                left = -1.0 < value < width and member[i, int(value)]
            elif math.isnan(value):
                left = nan_left[i]
            elif missing[i] == ZERO_MISSING and abs(value) <= zero:
                left = default_left[i]
            else:
                left = value <= threshold[i]
            excluded[tree[i]] |= right_leaves[i] if left else left_leaves[i]
        for t in range(n_trees):
            out[r, t] = all_leaves[t] ^ (all_leaves[t] & excluded[t])
    return out


def side_masks(
    X: np.ndarray,
    nodes: dict[str, np.ndarray],
    all_leaves: np.ndarray,
    zero: float,
) -> np.ndarray:
    """Rows x trees: the leaves each row's decisions on one side of the splits allow.

    Args:
        X: Rows of that side's inputs (float64).
        nodes: The side's split nodes as arrays (``feature``, ``threshold``,
            ``categorical``, ``missing``, ``default_left``, ``nan_left``, ``member``,
            ``tree``, ``left_leaves``, ``right_leaves``; see ``_Splits``).
        all_leaves: Each tree's mask of all its leaves.
        zero: The magnitude at or below which a value counts as zero.

    At each node a row goes left by LightGBM's rules: categorical, when its code (the
    value truncated) is in the node's set (NaN, negative and unknown codes go right);
    numerical, NaN the way ``nan_left`` says, a zero the default way where zero is the
    missing value, else when the value is ``<=`` the threshold.
    """
    return np.asarray(
        _side_masks(
            np.ascontiguousarray(X, dtype=np.float64),
            nodes["feature"],
            nodes["threshold"],
            nodes["categorical"],
            nodes["missing"],
            nodes["default_left"],
            nodes["nan_left"],
            nodes["member"],
            nodes["tree"],
            nodes["left_leaves"],
            nodes["right_leaves"],
            all_leaves,
            zero,
        )
    )


@_compiled
def leaf_sums(
    task: np.ndarray,
    configs: np.ndarray,
    values: np.ndarray,
    width: int,
    bounds: np.ndarray,
    first: int,
    stop: int,
) -> np.ndarray:  # pragma: no cover - compiled; the tests check it against LightGBM
    """Boosters ``first..stop-1`` x configs: each booster's sum of its reached leaves' values.

    Args:
        task: Task-side masks, one row for every config or one row per config.
        configs: Configs x trees config-side masks (the task's dtype).
        values: Trees x ``width`` leaf values, flat.
        width: Leaf slots per tree in ``values``.
        bounds: Each booster's first tree, then the number of trees.
        first: The first booster to sum.
        stop: One past the last.

    The AND of a tree's two masks has one bit set, the reached leaf.
    """
    n_configs = configs.shape[0]
    shared = task.shape[0] == 1
    out = np.empty((stop - first, n_configs))
    for c in range(n_configs):
        row = 0 if shared else c
        for b in range(first, stop):
            total = 0.0
            for t in range(bounds[b], bounds[b + 1]):
                leaf: int = trailing_zeros(configs[c, t] & task[row, t])  # type: ignore[call-arg]
                total += values[t * width + leaf]
            out[b - first, c] = total
    return out


@_compiled
def greedy_picks(
    weighted: np.ndarray, first: np.ndarray, bias: np.ndarray, picks: int, has_first: bool
) -> np.ndarray:  # pragma: no cover - compiled; tested against a plain reference
    """Plans x picks: greedily chosen columns maximising each plan's sum of row maxima.

    Args:
        weighted: Plans x worlds x columns, each world's row already times its weight.
        first: Plans x columns: what the first pick maximises when ``has_first``.
        bias: Plans x columns added to every gain (ties, and -inf for what may not be
            picked); a picked column's is set to -inf here (the array is changed).
        picks: How many columns each plan picks.
        has_first: Whether ``first`` chooses the first pick.
    """
    n_plans, worlds, width = weighted.shape
    steps = np.empty((n_plans, picks), dtype=np.int64)
    best = np.empty(worlds)
    score = np.empty(width)
    for b in range(n_plans):
        best[:] = -np.inf
        for step in range(picks):
            if step == 0 and has_first:
                score[:] = first[b]
            else:
                # Summed world by world, as numpy sums over a leading axis.
                for j in range(width):
                    x = weighted[b, 0, j]
                    score[j] = x if x > best[0] or math.isnan(x) else best[0]
                for w in range(1, worlds):
                    floor = best[w]
                    for j in range(width):
                        x = weighted[b, w, j]
                        score[j] += x if x > floor or math.isnan(x) else floor
                for j in range(width):
                    score[j] += bias[b, j]
            # np.argmax: the first maximum, or the first NaN.
            pick, top = 0, score[0]
            if not math.isnan(top):
                for j in range(1, width):
                    if math.isnan(score[j]):
                        pick = j
                        break
                    if score[j] > top:
                        pick, top = j, score[j]
            bias[b, pick] = -np.inf
            for w in range(worlds):
                x = weighted[b, w, pick]
                if x > best[w] or math.isnan(x):
                    best[w] = x
            steps[b, step] = pick
    return steps


@_compiled
def local_greedy(
    values: np.ndarray, best: np.ndarray, taken: np.ndarray, rounds: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled; tested against the numpy greedy
    """Requests x rounds: the greedy portfolio's picks of each request's local portfolio.

    Args:
        values: Requests x neighbours x picks, the neighbours' measured scores (0 where
            not measured, and in padding).
        best: Requests x neighbours, the best score already in each set (changed here).
        taken: Requests x picks, True for what may not be picked (changed here).
        rounds: How many picks each request makes (its output row holds -1 past them).

    Each round picks the column with the largest sum over the neighbours of its gain
    over the set's best, ``max(value - best, 0)``, added neighbour by neighbour as numpy
    sums over a leading axis; ties go to the first column.
    """
    n_requests, n_near, n_picks = values.shape
    out = np.full((n_requests, max(rounds.max(), 0)), -1, dtype=np.int64)
    for r in range(n_requests):
        for step in range(rounds[r]):
            pick, top = -1, -np.inf
            for p in range(n_picks):
                if taken[r, p]:
                    continue
                gain = 0.0
                for n in range(n_near):
                    difference = values[r, n, p] - best[r, n]
                    if difference > 0.0:
                        gain += difference
                if gain > top:
                    pick, top = p, gain
            out[r, step] = pick
            taken[r, pick] = True
            for n in range(n_near):
                if values[r, n, pick] > best[r, n]:
                    best[r, n] = values[r, n, pick]
    return out
