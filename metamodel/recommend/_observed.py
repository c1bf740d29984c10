"""Suggestions that use what was already observed on the task.

The surrogate predicts a config's score as if the task were any training task:
each training task gives a *world*, and the task's own meta-features give one
more. Observations (configs evaluated on the task, with their scores) say which
worlds look like the task: a world that orders the observed configs as their
scores do is likely to order the untried ones well too. Each world is weighted
by how well it ranks the observations (the share of concordant pairs), sharper
as observations accumulate, and candidates are ranked by the weighted mean of
the most credible worlds' predictions. This is the ranking-weighted ensemble of
transfer-learning Bayesian optimisation (RGPE, Feurer et al. 2018), with the
meta-model's per-task predictions as the base models.

Once enough observations are in, the task's own evidence joins as one more
world: a random forest fitted on the observed configs (scores mapped onto the
worlds' scale), weighted like the others by how well its out-of-bag predictions
rank the observations, so it takes over only where it predicts better than the
meta-model.

Scores are only compared within the task, so observations on any scale work,
and the weights need at least two observations with different scores; with
fewer the request is answered zero-shot (never repeating an observed config).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from warmstart.metamodel.recommend._worlds import WorldTable
from warmstart.metamodel.surrogate import CompiledSurrogate
from warmstart.metamodel.types import Observation

if TYPE_CHECKING:
    from sklearn.ensemble import RandomForestRegressor

__all__ = [
    "ObservedWorlds",
    "OwnWorld",
    "concordance",
    "improvement_picks",
    "observed_worlds",
    "own_world",
    "sampled_picks",
    "stalled",
]

# How many observations the weights look at (the best ones): the pair count, and so
# the cost, grows with the square of it.
MAX_WEIGHED = 100
SELF = -1
"""The row that stands for the task's own world (its meta-features) in :class:`ObservedWorlds`."""


@dataclass(frozen=True)
class ObservedWorlds:
    """The worlds a request with observations ranks its candidates in, and their weights.

    Attributes:
        rows: World-table rows of the training tasks kept, and :data:`SELF` for the task's
            own world; the most credible first.
        weights: Their weights, summing to 1.
        agreement: Each kept world's share of concordant observation pairs.
    """

    rows: np.ndarray
    weights: np.ndarray
    agreement: np.ndarray
    own: OwnWorld | None = None

    def without_own(self) -> ObservedWorlds:
        """The same worlds without the task's own model, their weights summing to 1 again."""
        if self.own is None:
            return self
        n = len(self.rows)
        weights = self.weights[:n]
        return ObservedWorlds(self.rows, weights / weights.sum(), self.agreement[:n])

    def scores(
        self,
        compiled: CompiledSurrogate,
        table: WorldTable,
        task: np.ndarray,
        masks: np.ndarray,
        encoded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate's prediction in every kept world, and their weighted mean.

        Args:
            compiled: The compiled surrogate.
            table: The world table (its training tasks' task-side masks).
            task: The request's own task-side masks.
            masks: The candidates' config-side tree masks.
            encoded: The candidates' encodings (needed when the task's own model is
                among the worlds).

        Returns:
            Worlds x candidates predictions (ensemble means; the own model last when
            kept), and the weighted mean per candidate.
        """
        rows = self.rows.tolist()
        per_world = np.empty((len(rows) + int(self.own is not None), len(masks)))
        for i, row in enumerate(rows):
            side = task if row == SELF else table.task_masks[row]
            per_world[i] = compiled.scores(side, masks).mean(axis=0)
        if self.own is not None:
            if encoded is None:
                raise ValueError("the task's own model needs the candidates' encodings")
            per_world[-1] = self.own.predict(encoded)
        return per_world, self.weights @ per_world


@dataclass(frozen=True)
class OwnWorld:
    """A model of the task fitted on its own observations, on the worlds' scale.

    Attributes:
        forest: The fitted random forest (inactive parameters encoded as -1).
        agreement: Its out-of-bag predictions' share of concordant observation pairs.
    """

    forest: RandomForestRegressor
    agreement: float

    def predict(self, encoded: np.ndarray) -> np.ndarray:
        """The forest's prediction for each encoded config."""
        return np.asarray(self.forest.predict(np.nan_to_num(encoded, nan=-1.0)), dtype=float)


def own_world(
    encoded: np.ndarray, scores: np.ndarray, scale: np.ndarray, seed: int
) -> OwnWorld | None:
    """Fit the task's own model on its observations, their scores mapped onto ``scale``.

    The scores are mapped linearly onto the range the credible worlds predict for the
    observed configs (``scale``), so the forest's predictions mix with theirs.

    Returns:
        The model, or None where out-of-bag predictions cannot be ranked (too few
        observations for every one to be left out of some tree).
    """
    from sklearn.ensemble import RandomForestRegressor  # loaded only with observations

    low, high = float(scale.min()), float(scale.max())
    span = float(scores.max() - scores.min())
    if span <= 0 or high <= low:
        return None
    target = low + (scores - scores.min()) / span * (high - low)
    forest = RandomForestRegressor(
        n_estimators=48, min_samples_leaf=1, max_features=0.5, oob_score=True, random_state=seed
    )
    forest.fit(np.nan_to_num(encoded, nan=-1.0), target)
    oob = np.asarray(forest.oob_prediction_, dtype=float)
    if not np.isfinite(oob).all():
        return None
    agreement = concordance(oob[None, :], scores)
    return None if agreement is None else OwnWorld(forest, float(agreement[0]))


def concordance(predicted: np.ndarray, observed: np.ndarray) -> np.ndarray | None:
    """Each world's share of observation pairs it orders as their scores do.

    Args:
        predicted: Worlds x observations, the predicted scores.
        observed: The observed scores.

    Returns:
        One share per world (a tie in the prediction counts half), or None when no two
        observations differ.
    """
    dy = np.sign(observed[:, None] - observed[None, :])
    pairs = np.triu(dy != 0, 1)
    n_pairs = int(pairs.sum())
    if n_pairs == 0:
        return None
    dp = np.sign(predicted[:, :, None] - predicted[:, None, :])
    agree = ((dp == dy) & pairs).sum(axis=(1, 2))
    ties = ((dp == 0) & pairs).sum(axis=(1, 2))
    return np.asarray((agree + 0.5 * ties) / n_pairs, dtype=float)


def observed_worlds(
    compiled: CompiledSurrogate,
    table: WorldTable,
    task: np.ndarray,
    masks: np.ndarray,
    scores: Sequence[float],
    *,
    sharpness: float,
    keep: int,
    encoded: np.ndarray | None = None,
    own_from: int = 0,
    seed: int = 0,
) -> ObservedWorlds | None:
    """Weigh every world by how well it ranks the observations; keep the most credible.

    A world's weight is ``exp(sharpness * n * (agreement - best agreement))`` for ``n``
    observations weighed, so one that disagrees on a tenth more pairs than the best
    loses a factor ``exp(sharpness * n / 10)``: little after three observations, nearly
    everything after thirty.

    Args:
        compiled: The compiled surrogate.
        table: The world table.
        task: The request's own task-side masks.
        masks: The observed configs' config-side tree masks.
        scores: Their observed scores (higher is better).
        sharpness: How fast weight leaves the worlds that disagree.
        keep: How many worlds to keep (the task's own world among them if it is credible).
        encoded: The observed configs' encodings (for the task's own model).
        own_from: Fit the task's own model from this many observations on (0: never).
        seed: The own model's seed.

    Returns:
        The kept worlds, or None where the observations cannot tell worlds apart
        (fewer than two different scores).
    """
    observed = np.asarray(scores, dtype=float)
    if len(observed) > MAX_WEIGHED:
        best = np.argsort(-observed, kind="stable")[:MAX_WEIGHED]
        observed, masks = observed[best], masks[best]
        encoded = None if encoded is None else encoded[best]
    n_rows = len(table.task_masks)
    predicted = np.empty((n_rows + 1, len(observed)))
    for row in range(n_rows):
        predicted[row] = compiled.scores(table.task_masks[row], masks).mean(axis=0)
    predicted[n_rows] = compiled.scores(task, masks).mean(axis=0)
    agreement = concordance(predicted, observed)
    if agreement is None:
        return None
    order = np.argsort(-agreement, kind="stable")[:keep]
    rows = np.where(order == n_rows, SELF, order)
    kept = agreement[order]
    worlds = ObservedWorlds(rows, _weights(kept, len(observed), sharpness), kept)
    if encoded is None or not own_from or len(observed) < own_from:
        return worlds
    scale = worlds.weights @ predicted[order]
    own = own_world(encoded, observed, scale, seed)
    if own is None:
        return worlds
    kept = np.append(kept, own.agreement)
    return replace(
        worlds, weights=_weights(kept, len(observed), sharpness), agreement=kept, own=own
    )


def _weights(agreement: np.ndarray, n: int, sharpness: float) -> np.ndarray:
    """``exp(sharpness * n * (agreement - best))``, normalised."""
    weights = np.exp(sharpness * n * (agreement - agreement.max()))
    return np.asarray(weights / weights.sum(), dtype=float)


def improvement_picks(
    per_world: np.ndarray,
    weights: np.ndarray,
    observed_best: np.ndarray,
    ranked: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
) -> list[int]:
    """Greedily pick ``k`` candidates for the largest expected gain over the best so far.

    In each world the best so far starts at its best observed config's prediction; a
    candidate's gain is the weighted sum, over worlds, of how far it is predicted above
    that best. Each pick raises the best in the worlds where it is predicted higher, so
    the next pick gains where the set is weak: while the worlds disagree this spreads
    the picks over them (the expected best of a set, continued from the observations);
    once one world holds the weight it is that world's best candidates in order. Ties
    (no gain anywhere) go to the better weighted mean.

    Args:
        per_world: Worlds x candidates, the predictions.
        weights: The worlds' weights (>= 0).
        observed_best: Each world's prediction of its best observed config.
        ranked: The weighted mean per candidate (the tie-break).
        k: How many to pick.
        allowed: Which candidates may be picked (None: all).

    Returns:
        Candidate indices, in the order they would be tried.
    """
    best = np.asarray(observed_best, dtype=float).copy()
    base = weights @ best
    # A tie-break far below any gain that matters; what may not be picked gets -inf.
    bias = np.asarray(ranked, dtype=float) * 1e-9
    if allowed is not None:
        bias = np.where(allowed, bias, -np.inf)
    picks: list[int] = []
    for _ in range(min(k, int(np.isfinite(bias).sum()))):
        lifted = np.maximum(per_world, best[:, None])
        gain = np.add.reduce(weights[:, None] * lifted, axis=0) - base
        pick = int(np.argmax(gain + bias))
        picks.append(pick)
        bias[pick] = -np.inf
        best = lifted[:, pick]
        base = weights @ best
    return picks


def sampled_picks(
    per_world: np.ndarray,
    weights: np.ndarray,
    ranked: np.ndarray,
    k: int,
    allowed: np.ndarray | None,
    seed: int,
) -> list[int]:
    """Pick ``k`` candidates, each the best of one world drawn with its weight.

    Thompson sampling over the worlds: a world that ranks the observations well is
    drawn often, but every credible one gets its turn, so a loop explores the optima
    of the worlds the weighted mean outvotes. A world drawn again gives its next best.

    Args:
        per_world: Worlds x candidates, the predictions.
        weights: The worlds' weights (summing to 1).
        ranked: The weighted mean per candidate (breaks a world's ties).
        k: How many to pick.
        allowed: Which candidates may be picked (None: all).
        seed: The draws' seed.

    Returns:
        Candidate indices, in the order they would be tried.
    """
    free = np.ones(per_world.shape[1], dtype=bool) if allowed is None else allowed.copy()
    rng = np.random.default_rng(seed)
    picks: list[int] = []
    for _ in range(min(k, int(free.sum()))):
        world = int(rng.choice(len(weights), p=weights))
        order = np.lexsort((-ranked, -per_world[world]))
        pick = int(order[free[order]][0])
        picks.append(pick)
        free[pick] = False
    return picks


def stalled(observations: Sequence[Observation], after: int) -> bool:
    """Whether the best observation (its first occurrence) is at least ``after``
    observations old: none of the last ``after`` beat what came before them."""
    scores = [o.score for o in observations]
    if len(scores) <= after:
        return False
    return len(scores) - 1 - int(np.argmax(scores)) >= after
