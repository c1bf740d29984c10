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

What no training task explains, a task's own quirks, a Matern kernel on the
encoded configs can take up (where the caller gives the encodings): its weight
(zero among the choices) and length are those under which the observations'
departures from the prior are likeliest, so it joins only where the cross-task
kernel alone fits them worse.

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

__all__ = ["KERNEL_NOISE", "MAX_FITTED", "every_world", "kernel_picks"]

KERNEL_NOISE = 0.1
"""The observation noise, as a share of the kernel's mean variance at the observed
configs: a task's measured scores repeat with a rank correlation of about 0.8
(docs/RESULTS.md, "How much of the gap is measurement noise?")."""

# The process is conditioned on at most this many observations (the best ones): its cost
# grows with the cube of their number.
MAX_FITTED = 100


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
    seen_x: np.ndarray | None = None,
    candidates_x: np.ndarray | None = None,
) -> list[int]:
    """Pick ``k`` candidates by the posterior of the cross-task process.

    Args:
        worlds_seen: Worlds x observations, every training task's prediction of each
            observed config (the rows are the worlds that make the kernel). Past
            :data:`MAX_FITTED` observations, the best of them are used.
        worlds_candidates: Worlds x candidates, the same worlds' predictions.
        prior_seen: The prior mean at each observed config.
        prior_candidates: The prior mean at each candidate.
        scores: The observed scores (higher is better; any scale).
        k: How many to pick.
        allowed: Which candidates may be picked (None: all).
        explore: Pick by expected improvement over the best observation (else by the
            posterior mean).
        seen_x: The observed configs' encodings on the unit scale (inactive
            parameters at -1). With ``candidates_x``, a Matern kernel on them joins the
            cross-task one for what no training task explains, its weight and length
            chosen by the observations' marginal likelihood (weight 0 among them).
        candidates_x: The candidates' encodings, as ``seen_x``.

    Returns:
        Candidate indices, in the order they would be tried.

    Raises:
        ValueError: The arrays' shapes do not match.
    """
    n_worlds, n_seen = worlds_seen.shape
    n_candidates = worlds_candidates.shape[1]
    if (
        worlds_candidates.shape[0] != n_worlds
        or len(prior_seen) != n_seen
        or len(scores) != n_seen
        or len(prior_candidates) != n_candidates
        or (seen_x is None) != (candidates_x is None)
        or (seen_x is not None and len(seen_x) != n_seen)
        or (candidates_x is not None and len(candidates_x) != n_candidates)
    ):
        raise ValueError("the worlds, priors, scores and encodings do not match")
    if n_seen > MAX_FITTED:
        best = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:MAX_FITTED]
        worlds_seen, prior_seen, scores = worlds_seen[:, best], prior_seen[best], scores[best]
        seen_x = None if seen_x is None else seen_x[best]
    free = np.ones(n_candidates, dtype=bool) if allowed is None else allowed.copy()
    seen = worlds_seen - worlds_seen.mean(axis=0)
    cand = worlds_candidates - worlds_candidates.mean(axis=0)
    world_seen = seen.T @ seen / n_worlds
    z = _on_worlds_scale(np.asarray(scores, dtype=float), prior_seen, np.diag(world_seen))
    prior_seen = np.asarray(prior_seen, dtype=float)
    prior_candidates = np.asarray(prior_candidates, dtype=float)
    level = float(np.mean(np.diag(world_seen))) + 1e-12
    noise = KERNEL_NOISE * level
    local = _Local(seen_x, candidates_x)
    local.choose(world_seen, z - prior_seen, noise, level)
    k_diag = np.einsum("wc,wc->c", cand, cand) / n_worlds + local.weight
    chosen: list[int] = []  # candidates counted as observed (the kriging believer)
    picks: list[int] = []
    for _ in range(min(k, int(free.sum()))):
        seen_all = np.hstack([seen, cand[:, chosen]])
        k_seen = seen_all.T @ seen_all / n_worlds + local.seen(chosen)
        k_cross = cand.T @ seen_all / n_worlds + local.cross(chosen)
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
        chosen.append(pick)
        z = np.append(z, mean[pick])
        prior_seen = np.append(prior_seen, prior_candidates[pick])
    return picks


# The local kernel's weights (shares of the cross-task kernel's mean variance) and
# lengths (on the unit scale) that the marginal likelihood chooses among.
LOCAL_WEIGHTS = (0.0, 0.3, 1.0, 3.0)
LOCAL_LENGTHS = (0.3, 1.0)


class _Local:
    """A Matern 5/2 kernel on the encodings, for what no training task explains."""

    def __init__(self, seen_x: np.ndarray | None, candidates_x: np.ndarray | None) -> None:
        self.seen_x = seen_x
        self.candidates_x = candidates_x
        self.weight = 0.0
        self.length = 1.0

    def choose(
        self, world_seen: np.ndarray, residual: np.ndarray, noise: float, level: float
    ) -> None:
        """Set the weight and length that make ``residual`` likeliest."""
        if self.seen_x is None:
            return
        best = -np.inf
        for weight in LOCAL_WEIGHTS:
            for length in LOCAL_LENGTHS if weight else LOCAL_LENGTHS[:1]:
                cov = world_seen + weight * level * _matern(self.seen_x, self.seen_x, length)
                found = _log_likelihood(cov + noise * np.eye(len(residual)), residual)
                if found > best + 1e-9:
                    best, self.weight, self.length = found, weight * level, length

    def seen(self, chosen: list[int]) -> np.ndarray | float:
        """The kernel among the observed configs and the chosen candidates."""
        if not self.weight or self.seen_x is None or self.candidates_x is None:
            return 0.0
        x = np.vstack([self.seen_x, self.candidates_x[chosen]])
        return self.weight * _matern(x, x, self.length)

    def cross(self, chosen: list[int]) -> np.ndarray | float:
        """The kernel between the candidates and the observed and chosen configs."""
        if not self.weight or self.seen_x is None or self.candidates_x is None:
            return 0.0
        x = np.vstack([self.seen_x, self.candidates_x[chosen]])
        return self.weight * _matern(self.candidates_x, x, self.length)


def _matern(a: np.ndarray, b: np.ndarray, length: float) -> np.ndarray:
    """The Matern 5/2 kernel (unit variance) between the rows of ``a`` and ``b``."""
    gap = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2), 0.0))
    r = np.sqrt(5.0) * gap / length
    return np.asarray((1.0 + r + r * r / 3.0) * np.exp(-r), dtype=float)


def _log_likelihood(cov: np.ndarray, y: np.ndarray) -> float:
    """The Gaussian log marginal likelihood of ``y`` (up to a constant)."""
    factor = cho_factor(cov, lower=True)
    return float(-0.5 * y @ cho_solve(factor, y) - np.log(np.diag(factor[0])).sum())


def every_world(
    compiled: CompiledSurrogate, table: WorldTable, task: np.ndarray, masks: np.ndarray
) -> np.ndarray:
    """Worlds x configs: every training task's prediction of each config (ensemble
    means), in world-table row order, and the task's own (its meta-features) last, so
    that :class:`~warmstart.metamodel.recommend._observed.ObservedWorlds` rows (``SELF``
    is -1) index it."""
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
