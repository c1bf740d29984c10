"""How a recommender gathers its candidates and chooses the set."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RecommenderSettings"]


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
        self_weight: Weight of the task's own worlds, in [0, 1]; the neighbours share
            the rest (1: the task's own alone).
        shortlist: Only this many of the best-predicted candidates (at least 4k)
            take part in choosing the set, which bounds the cost (>= 1).
        seed: Seed of the samples and the perturbations (>= 0).
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
    self_weight: float = 0.75
    shortlist: int = 64
    seed: int = 0
