"""The task as a Gaussian process whose covariance is how the training tasks differ.

Each training task's predicted scores (its *world*) are one draw of what a task's
scores over the configs can look like. Their covariance across the training tasks,

    K(c, c') = mean over worlds w of (f_w(c) - f(c)) (f_w(c') - f(c')),

with ``f`` the worlds' mean, is a kernel that knows which configs rise and fall
together from one task to the next: two configs that every task ranks alike are
close, whatever their distance in the space. The task's scores are modelled as a
prior mean (the credible worlds' weighted mean) plus a Gaussian process with that
kernel and a noise term, conditioned on the observations. Where the observations
depart from the prior, the posterior moves every config that co-varies with them
across tasks; an observation says nothing about configs that vary independently of
it. This is Bayesian linear regression on the worlds as basis functions (adaptive
Bayesian linear regression, Perrone et al. 2018, with the meta-model's per-task
predictions as the learned basis), written as a process so that its cost is in the
number of observations.

The observations are on the task's own scale; they are mapped onto the worlds' by
matching their mean and standard deviation to the prior predictive's at the
observed configs (the prior mean's spread plus the kernel's variance there).

Picks are the best posterior means (``"kernel"``) or the largest expected
improvements over the best observation (``"kernel_ei"``), one at a time for ``k >
1``, each pick then counted as observed at its posterior mean (the "kriging
believer") so the next goes elsewhere.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.stats import norm

from warmstart.metamodel.recommend._worlds import WorldTable
from warmstart.metamodel.surrogate import CompiledSurrogate

__all__ = ["KERNEL_NOISE", "every_world", "kernel_picks"]

KERNEL_NOISE = 0.1
"""The observation noise, as a share of the kernel's mean variance at the observed
configs: a task's measured scores repeat with a rank correlation of about 0.8
(docs/RESULTS.md, "How much of the gap is measurement noise?")."""


def kernel_picks(
    worlds_seen: np.ndarray,
    worlds_candidates: np.ndarray,
    prior_seen: np.ndarray,
    prior_candidates: np.ndarray,
    scores: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    *,
    explore: bool,
) -> list[int]:
    """Pick ``k`` candidates by the posterior of the cross-task process.

    Args:
        worlds_seen: Worlds x observations, every training task's prediction of each
            observed config (the rows are the worlds that make the kernel).
        worlds_candidates: Worlds x candidates, the same worlds' predictions.
        prior_seen: The prior mean at each observed config.
        prior_candidates: The prior mean at each candidate.
        scores: The observed scores (higher is better; any scale).
        k: How many to pick.
        allowed: Which candidates may be picked (None: all).
        explore: Pick by expected improvement over the best observation (else by the
            posterior mean).

    Returns:
        Candidate indices, in the order they would be tried.

    Raises:
        ValueError: The arrays' shapes do not match.
    """
    n_worlds, n_seen = worlds_seen.shape
    if (
        worlds_candidates.shape[0] != n_worlds
        or len(prior_seen) != n_seen
        or len(scores) != n_seen
        or len(prior_candidates) != worlds_candidates.shape[1]
    ):
        raise ValueError("the worlds, priors and scores do not match")
    free = np.ones(worlds_candidates.shape[1], dtype=bool) if allowed is None else allowed.copy()
    seen = worlds_seen - worlds_seen.mean(axis=0)
    cand = worlds_candidates - worlds_candidates.mean(axis=0)
    k_seen = seen.T @ seen / n_worlds
    k_cross = cand.T @ seen / n_worlds
    k_diag = np.einsum("wc,wc->c", cand, cand) / n_worlds
    z = _on_worlds_scale(np.asarray(scores, dtype=float), prior_seen, np.diag(k_seen))
    prior_seen = np.asarray(prior_seen, dtype=float)
    prior_candidates = np.asarray(prior_candidates, dtype=float)
    noise = KERNEL_NOISE * float(np.mean(np.diag(k_seen))) + 1e-12
    picks: list[int] = []
    for _ in range(min(k, int(free.sum()))):
        factor = cho_factor(k_seen + noise * np.eye(len(z)), lower=True)
        mean = prior_candidates + k_cross @ cho_solve(factor, z - prior_seen)
        if explore:
            var = k_diag - np.einsum("co,oc->c", k_cross, cho_solve(factor, k_cross.T))
            value = _expected_improvement(mean, np.sqrt(np.maximum(var, 0.0)), float(z.max()))
        else:
            value = mean
        # The mean breaks ties far below any difference that matters.
        value = np.where(free, value + mean * 1e-9, -np.inf)
        pick = int(np.argmax(value))
        picks.append(pick)
        free[pick] = False
        # The kriging believer: the pick joins the observations at its posterior mean.
        column = cand[:, pick]
        k_seen = np.block(
            [
                [k_seen, k_cross[pick][:, None]],
                [k_cross[pick][None, :], np.array([[k_diag[pick]]])],
            ]
        )
        k_cross = np.hstack([k_cross, (cand.T @ column / n_worlds)[:, None]])
        z = np.append(z, mean[pick])
        prior_seen = np.append(prior_seen, prior_candidates[pick])
    return picks


def every_world(
    compiled: CompiledSurrogate, table: WorldTable, task: np.ndarray, masks: np.ndarray
) -> np.ndarray:
    """Worlds x configs: every training task's prediction of each config (ensemble
    means), and the task's own (its meta-features) last."""
    out = np.empty((len(table.task_masks) + 1, len(masks)))
    for row, side in enumerate(table.task_masks):
        out[row] = compiled.scores(side, masks).mean(axis=0)
    out[-1] = compiled.scores(task, masks).mean(axis=0)
    return out


def _on_worlds_scale(scores: np.ndarray, prior: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """The scores mapped linearly so that their mean and standard deviation are the
    prior predictive's at the observed configs (the prior's own spread there plus the
    kernel's mean variance)."""
    spread = float(np.std(scores))
    target = float(np.sqrt(np.var(prior) + np.mean(variance)))
    if spread <= 0 or target <= 0:
        return np.full(len(scores), float(np.mean(prior)))
    return float(np.mean(prior)) + (scores - float(np.mean(scores))) / spread * target


def _expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement over ``best`` of normal predictions (``mean - best`` where
    the deviation is 0)."""
    gain = mean - best
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(sd > 0, gain / sd, 0.0)
    return np.where(sd > 0, gain * norm.cdf(u) + sd * norm.pdf(u), np.maximum(gain, 0.0))
