"""How a recommender gathers its candidates and chooses the set: settings checked when built."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

from warmstart.metamodel.errors import InvalidRequestError

__all__ = ["OBSERVED_CHOICES", "RecommenderSettings"]

# Each integer field's least allowed value (none has an upper bound).
_AT_LEAST = {
    "n_samples": 0,
    "n_screened": 0,
    "n_refine_from": 0,
    "n_refine_each": 1,
    "n_neighbours": 0,
    "best_per_neighbour": 0,
    "world_neighbours": 0,
    "local_neighbours": 1,
    "shortlist": 1,
    "seed": 0,
    "observed_worlds": 1,
    "observed_refine_from": 0,
    "observed_refine_each": 1,
    "observed_samples": 0,
    "observed_own_from": 0,
    "observed_from": 2,
    "observed_stall": 0,
}

OBSERVED_CHOICES = (
    "mean",
    "improvement",
    "residual",
    "corrected",
    "own",
    "sample",
    "kernel",
    "kernel_ei",
)
"""How a request with observations picks from its ranked candidates (``observed_choice``)."""


@dataclass(frozen=True)
class RecommenderSettings:
    """How many candidates of each kind to consider, and how the set is chosen.

    Attributes:
        n_samples: Sobol samples of the space, drawn once per model (>= 0; 0: the
            candidates are the default, the portfolio and the neighbours' best).
        n_screened: Samples kept per request after screening them on the
            nearest training tasks (>= 0; 0: no screening, every sample is scored
            for the task itself, about 5 times the cost of a request).
        screen_portfolio: Whether the portfolio is screened with the samples (else
            every portfolio config is a candidate).
        n_refine_from: Perturb this many of the best candidates (>= 0; 0: none).
        n_refine_each: Perturbations of each (>= 1).
        refine_scale: Standard deviation of a perturbation on the unit scale, in (0, 1].
        n_neighbours: Nearest training tasks whose best configs are candidates, and
            which a suggestion names (>= 0).
        best_per_neighbour: How many of each one's best configs (>= 0).
        world_neighbours: Nearest training tasks whose meta-features serve as
            extra "worlds" when screening and choosing the set (>= 0; 0: only the
            ensemble members, and no screening).
        local_neighbours: The ``local_portfolio`` rules' greedy portfolio is built over
            the measured scores of this many nearest training tasks (>= 1; 32 by
            default, about a fifth of the suite's training tasks per fold; set a
            priori, not tuned).
        self_weight: Weight of the task's own worlds, in [0, 1]; the neighbours share
            the rest (1: the task's own alone).
        shortlist: Only this many of the best-predicted candidates (at least 4k)
            take part in choosing the set, which bounds the cost (>= 1).
        seed: Seed of the samples and the perturbations (>= 0).
        observed_worlds: With observations of the task, candidates are ranked in this
            many worlds, those that rank the observations best (>= 1; see
            :mod:`warmstart.metamodel.recommend._observed`).
        observed_sharpness: How fast a world that ranks the observations worse loses
            weight (> 0; its weight is ``exp(-sharpness * n * shortfall)`` for ``n``
            observations and a shortfall in the share of concordant pairs).
        observed_refine_from: With observations, perturb this many of the best observed
            configs into extra candidates (>= 0; each ``observed_refine_each`` times).
        observed_refine_each: Perturbations of each of those (>= 1); each request draws
            new ones (their seed is ``seed`` plus the number of observations), so a
            client in a loop keeps exploring around its best configs.
        observed_refine_scale: Standard deviation of those perturbations on the unit
            scale, in (0, 1].
        observed_samples: With observations, this many configs drawn at random from
            the whole space join the candidates, new ones for each request (>= 0).
            The three search settings' defaults (16 perturbations at scale 0.2 of the
            three best, 256 samples) had the least mean regret over 50 trials of the
            loop on the inner family folds of the five outer folds together
            (``benchmarks.studies.loop_search``).
        observed_own_from: From this many observations on, a model fitted on the task's
            own observations joins the worlds (>= 0; 0: never).
        observed_from: From this many observations on, they weigh the worlds (>= 2;
            10 by default, as four of five outer folds' inner folds chose it).
            With fewer (but some), the answer continues the zero-shot set of
            ``observed_from`` configs (of ``k`` plus the number of observations where
            that is more), the observed configs counted as its members and left out
            of the answer: a client that tries the suggestions one by one walks
            through that one set in its order, then the observations take over.
        observed_choice: How the k are picked in the credible worlds: ``"mean"``, the
            best weighted-mean predictions; ``"improvement"``, greedily the largest
            expected gain over the best observed config, world by world (the expected
            best of the observed configs and the set, as ``expected_best`` chooses a
            zero-shot set), ties going to the better mean; ``"residual"``, the largest
            expected improvement of the worlds' mean corrected by a Gaussian process
            fitted on the observations (:mod:`warmstart.metamodel.recommend._residual`);
            ``"corrected"``, the best means of that corrected prediction; ``"own"``,
            the best predictions of the task's own model (the mean where it has none
            yet); ``"sample"``, each pick the best candidate of one world drawn by
            weight (Thompson sampling over the worlds, new draws for each number of
            observations); ``"kernel"``, the best posterior means of a Gaussian process
            whose covariance is how the training tasks' predictions co-vary, around the
            worlds' mean (:mod:`warmstart.metamodel.recommend._kernel`); ``"kernel_ei"``,
            that process's largest expected improvements. ``"mean"`` by default, as
            three of five outer folds' inner folds chose it.
        observed_stall: When the best observation is this many observations old (no
            later one beat it), the k are picked by ``observed_stall_choice`` instead
            (>= 0; 0: never): the loop stops exploiting a belief the task keeps
            refuting.
        observed_stall_choice: The choice a stalled request uses (one of
            ``observed_choice``'s).

    Raises:
        InvalidRequestError: A field is of the wrong type or out of its range.
    """

    n_samples: int = 256
    n_screened: int = 24
    screen_portfolio: bool = True
    n_refine_from: int = 0
    n_refine_each: int = 8
    refine_scale: float = 0.08
    n_neighbours: int = 5
    best_per_neighbour: int = 3
    world_neighbours: int = 10
    local_neighbours: int = 32
    self_weight: float = 0.75
    shortlist: int = 64
    seed: int = 0
    observed_worlds: int = 16
    observed_sharpness: float = 2.0
    observed_refine_from: int = 3
    observed_refine_each: int = 16
    observed_refine_scale: float = 0.2
    observed_samples: int = 256
    observed_own_from: int = 8
    observed_from: int = 10
    observed_choice: str = "mean"
    observed_stall: int = 0
    observed_stall_choice: str = "own"

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`InvalidRequestError` for a field of the wrong type or out of range."""
        for name, least in _AT_LEAST.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
                raise InvalidRequestError(
                    f"`{name}` must be an integer >= {least}, but got {name}={value!r}."
                )
        if not isinstance(self.screen_portfolio, bool):
            raise InvalidRequestError(
                "`screen_portfolio` must be a bool, but got "
                f"screen_portfolio={self.screen_portfolio!r}."
            )
        _check_unit("refine_scale", self.refine_scale, zero_allowed=False)
        _check_unit("self_weight", self.self_weight, zero_allowed=True)
        _check_unit("observed_refine_scale", self.observed_refine_scale, zero_allowed=False)
        for name in ("observed_choice", "observed_stall_choice"):
            value = getattr(self, name)
            if value not in OBSERVED_CHOICES:
                raise InvalidRequestError(
                    f"`{name}` must be one of {', '.join(OBSERVED_CHOICES)}, but got "
                    f"{name}={str(value)[:60]!r}."
                )
        sharp = self.observed_sharpness
        if isinstance(sharp, bool) or not isinstance(sharp, Real) or not 0 < float(sharp) < 1e6:
            raise InvalidRequestError(
                f"`observed_sharpness` must be a number > 0, but got observed_sharpness={sharp!r}."
            )


def _check_unit(name: str, value: object, *, zero_allowed: bool) -> None:
    """Raise unless ``value`` is a real number in [0, 1] (in (0, 1] unless ``zero_allowed``)."""
    if not isinstance(value, bool) and isinstance(value, Real):
        number = float(value)
        low_ok = number >= 0.0 if zero_allowed else number > 0.0
        if low_ok and number <= 1.0:  # False for NaN
            return
    interval = "[0, 1]" if zero_allowed else "(0, 1]"
    raise InvalidRequestError(f"`{name}` must be a number in {interval}, but got {name}={value!r}.")
