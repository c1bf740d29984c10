"""A fold's fixed configs and a held-out task's measured pool: what the ranking studies share.

The task-dependence figures compare predicted and measured scores over a fixed set of
configs per fold (the best on its training tasks, as the evaluation's own figures do), and
the regret of a model's predicted best over everything measured on the task.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from warmstart.metamodel.evaluation import EvaluationData, mean_order
from warmstart.metamodel.portfolio import config_means, primary_records, score_matrix
from warmstart.metamodel.types import ConfigValue, EvaluationRecord

__all__ = [
    "MIN_COMMON",
    "N_FIXED",
    "HeldOutPool",
    "fixed_configs",
    "held_out_pool",
    "held_out_pools",
]

N_FIXED = 32
"""Configs in a fold's fixed set."""
MIN_COMMON = 5
"""A task with fewer of the fixed configs measured is left out of the figures."""


def fixed_configs(records: Sequence[EvaluationRecord]) -> list[str]:
    """Hashes of the :data:`N_FIXED` configs of best mean normalised score over ``records``."""
    return mean_order(score_matrix(records))[:N_FIXED]


@dataclass(frozen=True)
class HeldOutPool:
    """A held-out task's configs with a finite score (its primary fidelity, mean over seeds).

    Attributes:
        hashes: The pool's config hashes, sorted.
        configs: Their configs, in the same order.
        measured: Their scores, in the same order.
        fixed: The fold's fixed configs found in the pool, in the fixed set's order.
        index: Where each of ``fixed`` stands in ``hashes``.
    """

    hashes: list[str]
    configs: list[dict[str, ConfigValue]]
    measured: np.ndarray
    fixed: list[str]
    index: list[int]

    def regret_of_best(self, predicted: np.ndarray) -> float:
        """Normalised regret, over the pool, of the config ``predicted`` scores highest."""
        span = float(self.measured.max() - self.measured.min()) or 1.0
        return float((self.measured.max() - self.measured[int(np.argmax(predicted))]) / span)


def held_out_pool(records: Sequence[EvaluationRecord], fixed: Sequence[str]) -> HeldOutPool | None:
    """The pool of a task's ``records``; None if fewer than :data:`MIN_COMMON` of ``fixed``
    are in it."""
    scores = config_means(primary_records(records))
    configs = {r.config_hash: dict(r.config) for r in records}
    hashes = [h for h in sorted(scores) if np.isfinite(scores[h])]
    found = [h for h in fixed if h in hashes]
    if len(found) < MIN_COMMON:
        return None
    return HeldOutPool(
        hashes=hashes,
        configs=[configs[h] for h in hashes],
        measured=np.array([scores[h] for h in hashes]),
        fixed=found,
        index=[hashes.index(h) for h in found],
    )


def held_out_pools(
    data: EvaluationData, test_ids: Sequence[str], fixed: Sequence[str]
) -> Iterator[tuple[str, HeldOutPool, dict[str, float]]]:
    """The id, pool and meta-features (as a request states them) of each task of
    ``test_ids`` that has a pool (see :func:`held_out_pool`), in order."""
    for task_id in test_ids:
        pool = held_out_pool(data.usable[task_id], fixed)
        if pool is not None:
            yield task_id, pool, data.features[task_id].as_dict()
