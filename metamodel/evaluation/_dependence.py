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

The best configs on the training tasks move with the records, so those figures do not
compare across record sets. The same figures are also taken over the space's own fixed
set (``sampled``): its library default and first Sobol configs, seed 0, which
``warmstart bench run --configs 32`` trains on every task. That set depends on the space's
definition alone, is the same on every fold, and is the kind of set issue 19 measured on
(the default and 32 Sobol configs of a LightGBM space): wide, bad configs included, where
telling the good region from the bad is part of the ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from ConfigSpace import ConfigurationSpace
from scipy.stats import spearmanr

from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.spaces import config_hash, sample_configs
from warmstart.metamodel.surrogate import Surrogate
from warmstart.metamodel.types import ConfigValue

__all__ = [
    "DependenceCollector",
    "RankedTask",
    "RankingFigures",
    "TaskDependence",
    "agreement",
    "finite_mean",
    "sampled_fixed",
    "spearman_or_nan",
]

N_SAMPLED = 32
"""Configs in the space's own fixed set: the library default and the first 31 Sobol ones."""

MIN_COMMON = 5
"""Fewer fixed configs than this in common and a task (or a pair) is not measured."""


@dataclass(frozen=True)
class RankingFigures:
    """Predicted against measured rankings of one fixed set of configs (see the module).

    Attributes:
        n_configs: Configs in the set.
        n_tasks: Held-out tasks with at least :data:`MIN_COMMON` of them measured.
        spearman: Mean Spearman, over those tasks, of predicted against measured scores.
        predicted_agreement: Mean Spearman between two tasks' predicted rankings.
        measured_agreement: The same for their measured rankings.
    """

    n_configs: int
    n_tasks: int
    spearman: float
    predicted_agreement: float
    measured_agreement: float


@dataclass(frozen=True)
class TaskDependence:
    """Task dependence of the surrogate's predictions (see the module).

    The flat figures are over each fold's configs best on its training tasks; ``sampled``
    holds the same over the space's own fixed set (None where it was not measured).
    """

    n_fixed: int
    n_tasks: int
    spearman: float
    predicted_agreement: float
    measured_agreement: float
    distinct_top5: int
    sampled: RankingFigures | None = None


def sampled_fixed(space: ConfigurationSpace, n: int = N_SAMPLED) -> list[str]:
    """Hashes of the space's own fixed set: its library default and first ``n - 1`` Sobol
    configs (seed 0), in that order; a prefix of any larger such sample."""
    return [config_hash(c) for c in sample_configs(space, n, method="sobol", seed=0)]


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
        sampled: The space's own fixed set (:func:`sampled_fixed`), measured beside the
            fold's; empty: not measured.
    """

    def __init__(
        self, encoder: ConfigEncoder, n_fixed: int = 32, sampled: Sequence[str] = ()
    ) -> None:
        self.encoder = encoder
        self.n_fixed = n_fixed
        self.sampled = list(sampled)
        self._seen: list[_Seen] = []
        self._seen_sampled: list[_Seen] = []
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
        for chosen, seen in (
            (fixed[: self.n_fixed], self._seen),
            (self.sampled, self._seen_sampled),
        ):
            hashes = [h for h in chosen if np.isfinite(scores.get(h, np.nan))]
            if len(hashes) < MIN_COMMON:
                continue
            encoded = self.encoder.encode([configs[h] for h in hashes])
            X = np.hstack([np.tile(meta, (len(hashes), 1)), encoded])
            predicted, _ = surrogate.predict(X)
            measured = np.array([scores[h] for h in hashes])
            seen.append(_Seen(fold, hashes, predicted, measured))

    def result(self) -> TaskDependence:
        """The figures over every recorded task (NaN where nothing could be measured)."""
        best = _figures(self._seen, self.n_fixed)
        return TaskDependence(
            n_fixed=self.n_fixed,
            n_tasks=best.n_tasks,
            spearman=best.spearman,
            predicted_agreement=best.predicted_agreement,
            measured_agreement=best.measured_agreement,
            distinct_top5=len(self._top5),
            sampled=_figures(self._seen_sampled, len(self.sampled)) if self.sampled else None,
        )


def _figures(seen: Sequence[_Seen], n_configs: int) -> RankingFigures:
    """The ranking figures over the ``seen`` tasks of one fixed set."""
    ranked = [
        RankedTask(s.fold, s.hashes, {"predicted": s.predicted, "measured": s.measured})
        for s in seen
    ]
    return RankingFigures(
        n_configs=n_configs,
        n_tasks=len(seen),
        spearman=finite_mean([spearman_or_nan(s.predicted, s.measured) for s in seen]),
        predicted_agreement=agreement(ranked, "predicted"),
        measured_agreement=agreement(ranked, "measured"),
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
