"""Does the surrogate tell tasks apart? Its rankings of a fixed set of configs, task by task.

A surrogate can score well on regret by learning one global ranking of configs
and little else; such a model suggests the same few configs for every task.
These figures measure task dependence directly, on the held-out tasks of a
leave-family-out evaluation:

- ``spearman``: per held-out task, the Spearman correlation between the
  predicted and the measured scores of a fixed set of configs, averaged over
  tasks. The fixed set is, per fold, the ``n_fixed`` configs with the best mean
  normalised score on the fold's *training* tasks: the competitive region,
  where telling configs apart matters and where one global ranking says least.
- ``predicted_agreement`` and ``measured_agreement``: the mean Spearman
  correlation, over pairs of held-out tasks of one fold, between their
  predicted (resp. measured) rankings of the fixed set. A model whose rankings
  agree across tasks far more than the measured ones do ignores the task.
- ``distinct_top5``: how many distinct configs the first five suggestions of
  all held-out tasks hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.stats import spearmanr

from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.surrogate import Surrogate
from warmstart.metamodel.types import ConfigValue

__all__ = [
    "DependenceCollector",
    "RankedTask",
    "TaskDependence",
    "agreement",
    "finite_mean",
    "spearman_or_nan",
]

MIN_COMMON = 5
"""Fewer fixed configs than this in common and a task (or a pair) is not measured."""


@dataclass(frozen=True)
class TaskDependence:
    """Task dependence of the surrogate's predictions (see the module)."""

    n_fixed: int
    n_tasks: int
    spearman: float
    predicted_agreement: float
    measured_agreement: float
    distinct_top5: int


@dataclass
class _Seen:
    fold: int
    hashes: list[str]
    predicted: np.ndarray
    measured: np.ndarray


class DependenceCollector:
    """Collects each held-out task's predicted and measured scores of its fold's fixed set.

    Args:
        encoder: The space's config encoder.
        n_fixed: Size of the fixed set per fold.
    """

    def __init__(self, encoder: ConfigEncoder, n_fixed: int = 32) -> None:
        self.encoder = encoder
        self.n_fixed = n_fixed
        self._seen: list[_Seen] = []
        self._top5: set[str] = set()

    def add(
        self,
        fold: int,
        fixed: Sequence[str],
        surrogate: Surrogate,
        meta: np.ndarray,
        scores: Mapping[str, float],
        configs: Mapping[str, Mapping[str, ConfigValue]],
        suggested: Sequence[str],
    ) -> None:
        """Record one held-out task.

        Args:
            fold: Its fold.
            fixed: The fold's configs by mean training score, best first (hashes).
            surrogate: The fold's surrogate.
            meta: The task's raw meta-feature vector, in the surrogate's order.
            scores: The task's measured score per config hash (NaN: failed).
            configs: The task's configs by hash.
            suggested: The hashes the recommender put first, in order.
        """
        self._top5.update(suggested[:5])
        hashes = [h for h in fixed[: self.n_fixed] if np.isfinite(scores.get(h, np.nan))]
        if len(hashes) < MIN_COMMON:
            return
        encoded = self.encoder.encode([configs[h] for h in hashes])
        X = np.hstack([np.tile(meta, (len(hashes), 1)), encoded])
        predicted, _ = surrogate.predict(X)
        measured = np.array([scores[h] for h in hashes])
        self._seen.append(_Seen(fold, hashes, predicted, measured))

    def result(self) -> TaskDependence:
        """The figures over every recorded task (NaN where nothing could be measured)."""
        rhos = [spearman_or_nan(s.predicted, s.measured) for s in self._seen]
        ranked = [
            RankedTask(s.fold, s.hashes, {"predicted": s.predicted, "measured": s.measured})
            for s in self._seen
        ]
        return TaskDependence(
            n_fixed=self.n_fixed,
            n_tasks=len(self._seen),
            spearman=finite_mean(rhos),
            predicted_agreement=agreement(ranked, "predicted"),
            measured_agreement=agreement(ranked, "measured"),
            distinct_top5=len(self._top5),
        )


def spearman_or_nan(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's correlation of ``a`` and ``b``; NaN where either is constant."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")  # a constant ranking has no correlation
    return float(spearmanr(a, b).statistic)


def finite_mean(values: Sequence[float]) -> float:
    """The mean of the finite ``values``; NaN where there are none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


@dataclass
class RankedTask:
    """One held-out task's scores of its fold's fixed configs, by source.

    Attributes:
        fold: The task's fold (agreement is measured between tasks of one fold).
        hashes: The configs, in the order of every array of ``scores``.
        scores: Scores by source (for example ``"predicted"`` and ``"measured"``).
    """

    fold: int
    hashes: list[str]
    scores: dict[str, np.ndarray]


def agreement(tasks: Sequence[RankedTask], first: str, second: str | None = None) -> float:
    """Mean Spearman, over pairs of tasks of one fold, between one task's ``first`` scores
    and the other's ``second`` scores (default: ``first``) of the configs both have; with
    two sources both directions count, so the figure is symmetric in the tasks."""
    other = first if second is None else second
    values = []
    for a, b in combinations(tasks, 2):
        if a.fold != b.fold:
            continue
        common = sorted(set(a.hashes) & set(b.hashes))
        if len(common) < MIN_COMMON:
            continue
        ia, ib = [a.hashes.index(h) for h in common], [b.hashes.index(h) for h in common]
        values.append(spearman_or_nan(a.scores[first][ia], b.scores[other][ib]))
        if other != first:
            values.append(spearman_or_nan(a.scores[other][ia], b.scores[first][ib]))
    return finite_mean(values)
