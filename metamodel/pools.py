"""A task's pools: the configs evaluated on it at one training size, and that size.

Pool mode and the inner validations choose among the configs evaluated on a task
and score the choice by their measured scores. Those scores hold for the rows the
configs were trained on (a record's fidelity times the table's rows), so the model
is asked at that size, not at the table's: a 20,000-row task's 2,000-row pool
answers what a user training on 2,000 rows would get. A task has its *primary*
pool (the fidelity with the most configs, :func:`~warmstart.metamodel.portfolio.primary_records`)
and, where the knowledge base measured configs at more rows too, a *full-size*
pool: the largest fidelity above the primary one with at least
:data:`MIN_SIZED_CONFIGS` configs, what a user training on the whole table meets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from warmstart.metamodel.portfolio import config_means, primary_records
from warmstart.metamodel.surrogate import SIZE_SOURCE
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, TaskFeatures

__all__ = [
    "MIN_SIZED_CONFIGS",
    "TaskPool",
    "full_size_pool",
    "pool_rows",
    "primary_pool",
    "score_spread",
]

MIN_SIZED_CONFIGS = 16
"""A full-size pool needs at least this many configs: fewer choose among too little for
best of 10 to say anything."""


@dataclass(frozen=True)
class TaskPool:
    """The configs evaluated on one task at one fidelity.

    Attributes:
        scores: Mean score per config hash (NaN: failed).
        configs: The configs by hash.
        fidelity: The fraction of the task's rows they were trained on.
        rows: Those rows (None where the task's size is unknown).
    """

    scores: dict[str, float]
    configs: dict[str, dict[str, ConfigValue]]
    fidelity: float
    rows: int | None

    @property
    def hashes(self) -> list[str]:
        """The pool's config hashes, sorted (the order candidates are given in)."""
        return sorted(self.scores)

    @property
    def spread(self) -> float:
        """Best minus worst finite score (0: nothing to rank, see :func:`score_spread`)."""
        return score_spread(self.scores)


def score_spread(scores: Mapping[str, float]) -> float:
    """Best minus worst finite score of a task's configs; 0 with fewer than two, where a
    pool cannot tell a choice from another."""
    finite = [s for s in scores.values() if np.isfinite(s)]
    return max(finite) - min(finite) if len(finite) >= 2 else 0.0


def pool_rows(features: TaskFeatures | Mapping[str, float] | None, fidelity: float) -> int | None:
    """The rows a config of ``fidelity`` was trained on: the table's rows (``log_n_rows``)
    times the fidelity, at least 1; None where the features give no size."""
    if features is None:
        return None
    values = features.as_dict() if isinstance(features, TaskFeatures) else features
    log_n = values.get(SIZE_SOURCE)
    if log_n is None or not np.isfinite(log_n):
        return None
    return max(1, round(float(np.exp(log_n)) * fidelity))


def _pool(
    records: Sequence[EvaluationRecord], features: TaskFeatures | None, fidelity: float
) -> TaskPool:
    kept = [r for r in records if r.fidelity == fidelity]
    return TaskPool(
        config_means(kept),
        {r.config_hash: dict(r.config) for r in kept},
        fidelity,
        pool_rows(features, fidelity),
    )


def primary_pool(records: Sequence[EvaluationRecord], features: TaskFeatures | None) -> TaskPool:
    """One task's primary pool (its records' fidelity with the most configs)."""
    primary = primary_records(records)
    fidelity = max((r.fidelity for r in primary), default=1.0)
    return _pool(primary, features, fidelity)


def full_size_pool(
    records: Sequence[EvaluationRecord],
    features: TaskFeatures | None,
    min_configs: int = MIN_SIZED_CONFIGS,
) -> TaskPool | None:
    """One task's largest fidelity above its primary one with at least ``min_configs``
    configs; None where it has none."""
    configs: dict[float, set[str]] = defaultdict(set)
    for record in records:
        configs[record.fidelity].add(record.config_hash)
    primary = max((r.fidelity for r in primary_records(records)), default=1.0)
    larger = [f for f, hs in configs.items() if f > primary and len(hs) >= min_configs]
    return _pool(records, features, max(larger)) if larger else None
