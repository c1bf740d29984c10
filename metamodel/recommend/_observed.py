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

Scores are only compared within the task, so observations on any scale work,
and the weights need at least two observations with different scores; with
fewer the request is answered zero-shot (never repeating an observed config).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from warmstart.metamodel.recommend._worlds import WorldTable
from warmstart.metamodel.surrogate import CompiledSurrogate

__all__ = ["ObservedWorlds", "concordance", "observed_worlds"]

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

    def scores(
        self,
        compiled: CompiledSurrogate,
        table: WorldTable,
        task: np.ndarray,
        masks: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate's weighted mean prediction over the worlds, and its spread.

        Args:
            compiled: The compiled surrogate.
            table: The world table (its training tasks' task-side masks).
            task: The request's own task-side masks.
            masks: The candidates' config-side tree masks.

        Returns:
            Worlds x candidates predictions (ensemble means), and the weighted mean per
            candidate.
        """
        per_world = np.empty((len(self.rows), len(masks)))
        for i, row in enumerate(self.rows.tolist()):
            side = task if row == SELF else table.task_masks[row]
            per_world[i] = compiled.scores(side, masks).mean(axis=0)
        return per_world, self.weights @ per_world


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

    Returns:
        The kept worlds, or None where the observations cannot tell worlds apart
        (fewer than two different scores).
    """
    observed = np.asarray(scores, dtype=float)
    if len(observed) > MAX_WEIGHED:
        best = np.argsort(-observed, kind="stable")[:MAX_WEIGHED]
        observed, masks = observed[best], masks[best]
    n_rows = len(table.task_masks)
    predicted = np.empty((n_rows + 1, len(observed)))
    for row in range(n_rows):
        predicted[row] = compiled.scores(table.task_masks[row], masks).mean(axis=0)
    predicted[n_rows] = compiled.scores(task, masks).mean(axis=0)
    agreement = concordance(predicted, observed)
    if agreement is None:
        return None
    logits = sharpness * len(observed) * (agreement - agreement.max())
    order = np.argsort(-logits, kind="stable")[:keep]
    weights = np.exp(logits[order])
    rows = np.where(order == n_rows, SELF, order)
    return ObservedWorlds(rows, weights / weights.sum(), agreement[order])
