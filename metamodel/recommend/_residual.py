"""Expected improvement on the worlds' prediction corrected by the task's own observations.

The credible worlds' weighted mean is a prior for the task's scores, on the worlds'
scale. The observations (standardised within the task, so any scale works) are fitted
as ``a + b * prior + r(config)``: ``a`` and ``b >= 0`` say how the prior's scale maps
onto the task's, and ``r`` is a Gaussian process on what the prior misses (a Matern
kernel on the encoded configs, with a noise term). Where the prior ranks the
observations well, ``b`` carries it and ``r`` stays small; where it does not, ``b``
falls towards 0 and the process alone models the task, as cold Bayesian optimisation
would. Candidates are picked by expected improvement over the best observation, so
the process's uncertainty draws picks away from what is already known. This is
transfer by a prior mean (as in the meta-learned priors of Feurer et al. 2015 and
Perrone et al. 2018), with the worlds' ensemble as the prior.

Several picks (``k > 1``) are made one at a time, each pick then counted as observed
at its predicted mean (the "kriging believer"), so the next pick goes elsewhere.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.gaussian_process import GaussianProcessRegressor

__all__ = ["INACTIVE", "residual_picks"]

# An inactive parameter's encoding: one unit below its range, so configs where it is
# active and inactive are far apart.
INACTIVE = -1.0
# The process is fitted on at most this many observations (the best ones): its cost
# grows with the cube of their number.
MAX_FITTED = 100


def residual_picks(
    prior_seen: np.ndarray,
    scores: np.ndarray,
    seen: np.ndarray,
    prior: np.ndarray,
    candidates: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    seed: int = 0,
    widths: np.ndarray | None = None,
    explore: bool = True,
) -> list[int]:
    """Pick ``k`` candidates by expected improvement of the corrected prior.

    Args:
        prior_seen: The worlds' weighted mean for each observed config.
        scores: The observed scores (higher is better).
        seen: The observed configs' encodings (NaN where inactive).
        prior: The worlds' weighted mean for each candidate.
        candidates: The candidates' encodings.
        k: How many to pick.
        allowed: Which candidates may be picked (None: all).
        seed: Seed of the kernel's fit.
        widths: What each encoded column is divided by to lie in [0, 1] (a categorical's
            encoding is its choice's index); None: every column is already there.
        explore: Pick by expected improvement (else by the corrected mean alone: the
            process's uncertainty is not sought out).

    Returns:
        Candidate indices, in the order they would be tried.
    """
    from scipy.stats import norm  # loaded only with observations

    y = np.asarray(scores, dtype=float)
    prior_seen = np.asarray(prior_seen, dtype=float)
    seen = np.asarray(seen, dtype=float)
    if len(y) > MAX_FITTED:
        top = np.argsort(-y, kind="stable")[:MAX_FITTED]
        y, prior_seen, seen = y[top], prior_seen[top], seen[top]
    scale = np.ones(seen.shape[1]) if widths is None else np.asarray(widths, dtype=float)
    spread = float(y.std())
    y = (y - y.mean()) / spread if spread > 0 else np.zeros_like(y)
    a, b = _prior_scale(prior_seen, y)
    x_seen = np.nan_to_num(seen / scale, nan=INACTIVE)
    x_cand = np.nan_to_num(np.asarray(candidates, dtype=float) / scale, nan=INACTIVE)
    base = a + b * np.asarray(prior, dtype=float)
    residual = y - (a + b * prior_seen)
    process = _fitted(x_seen, residual, seed)
    open_ = np.ones(len(x_cand), dtype=bool) if allowed is None else allowed.copy()
    best = float(y.max())
    picks: list[int] = []
    for _ in range(min(k, int(open_.sum()))):
        mean, std = process.predict(x_cand, return_std=True)
        mu = base + mean
        std = np.maximum(std, 1e-9)
        z = (mu - best) / std
        gain = std * (z * norm.cdf(z) + norm.pdf(z)) if explore else mu
        # The better mean breaks ties (no improvement expected anywhere).
        gain = np.where(open_, gain + 1e-12 * mu, -np.inf)
        pick = int(np.argmax(gain))
        picks.append(pick)
        open_[pick] = False
        if len(picks) < k:
            x_seen = np.vstack([x_seen, x_cand[pick]])
            residual = np.append(residual, mean[pick])
            process = _refitted(process, x_seen, residual)
    return picks


def _prior_scale(prior_seen: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y ~ a + b * prior`` with ``b >= 0`` (``b = 0``: a prior that ranks
    the observations backwards is not used)."""
    centred = prior_seen - prior_seen.mean()
    variance = float(centred @ centred)
    b = max(float(centred @ (y - y.mean())) / variance, 0.0) if variance > 0 else 0.0
    return float(y.mean() - b * prior_seen.mean()), b


def _fitted(x: np.ndarray, y: np.ndarray, seed: int) -> GaussianProcessRegressor:
    """A Gaussian process on ``y``, its kernel's scale, length and noise fitted."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = ConstantKernel(1.0, (1e-3, 1e2)) * Matern(
        length_scale=0.5, length_scale_bounds=(0.05, 10.0), nu=2.5
    ) + WhiteKernel(0.1, (1e-6, 1.0))
    process = GaussianProcessRegressor(kernel, normalize_y=False, random_state=seed)
    with warnings.catch_warnings():
        # A kernel scale at its bound is an answer here (no residual left: the prior
        # explains the observations), not a failure to report.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return process.fit(x, y)


def _refitted(
    process: GaussianProcessRegressor, x: np.ndarray, y: np.ndarray
) -> GaussianProcessRegressor:
    """The process conditioned on more points, its kernel kept."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    again = GaussianProcessRegressor(process.kernel_, optimizer=None, normalize_y=False)
    return again.fit(x, y)
