"""Choosing how many rows a leaf of the surrogate's trees must hold, on inner folds.

A leaf that may hold few rows can fit one training task's quirks; one that must hold
many can only say what several tasks share. Which serves new tasks best depends on the
space (how many records each task has, how much its tasks differ), so it is chosen the way
the set rule is, on inner family folds of the training tasks only: for each candidate
``min_child_samples``, a surrogate is trained without each inner fold, and on each task of
that fold the Spearman correlation between its predicted and measured scores of a fixed
set of configs (the 32 with the best mean normalised score on the inner training tasks:
the competitive region, where telling configs apart matters) is measured. The candidate
with the best mean Spearman serves; ties go to the surrogate's own. (Both sides are the
same model, so no side carries a burden of proof, as the model rules do against the free
ones.) ``benchmarks/studies/surrogate_settings.py`` measured the choice on outer
leave-family-out folds (docs/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from warmstart.metamodel.bundle._validate import InnerFolds
from warmstart.metamodel.portfolio import mean_order, score_matrix
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.types import EvaluationRecord, TaskFeatures

__all__ = ["FIXED_CONFIGS", "LEAF_ROWS", "MIN_TASKS", "LeafChoice", "choose_leaf_rows"]

LEAF_ROWS = (20, 60, 150, 400)
"""The ``min_child_samples`` the inner folds choose among (20: the surrogate's own)."""
FIXED_CONFIGS = 32
"""Configs in an inner fold's fixed set."""
MIN_TASKS = 60
"""With fewer usable training tasks the choice is not made: too few to tell settings apart."""
_MIN_COMMON = 5


@dataclass(frozen=True)
class LeafChoice:
    """What the inner folds measured, and the leaf size chosen.

    Attributes:
        min_child_samples: The chosen rows per leaf.
        spearman: Mean Spearman over the inner held-out tasks of each candidate.
        n_tasks: Inner held-out tasks measured.
    """

    min_child_samples: int
    spearman: Mapping[int, float]
    n_tasks: int

    def metrics(self) -> dict[str, float]:
        """Flat figures for a bundle's metrics (``surrogate.leaf_rows``, and
        ``surrogate.leaf_rows.<n>.spearman`` for each candidate)."""
        out = {
            "surrogate.leaf_rows": float(self.min_child_samples),
            "surrogate.leaf_rows.tasks": float(self.n_tasks),
        }
        for rows, value in self.spearman.items():
            out[f"surrogate.leaf_rows.{rows}.spearman"] = float(value)
        return out


def choose_leaf_rows(
    folds: InnerFolds,
    features: Mapping[str, TaskFeatures],
    own: int,
    candidates: Sequence[int],
    train: Callable[[list[EvaluationRecord], int], Recommender],
) -> LeafChoice | None:
    """Measure each candidate on the inner folds; choose (see the module).

    Args:
        folds: The training tasks' inner family folds.
        features: Meta-features by task id.
        own: The surrogate's own ``min_child_samples`` (measured too, the reference).
        candidates: The other values to measure.
        train: Trains a recommender on some records with a given ``min_child_samples``.

    Returns:
        The choice, or None with fewer than :data:`MIN_TASKS` usable tasks.
    """
    if len(folds.usable) < MIN_TASKS:
        return None
    values = [own, *(c for c in dict.fromkeys(candidates) if c != own)]
    found: dict[int, list[float]] = {v: [] for v in values}
    for fold in range(folds.n_folds):
        held_out, kept = folds.split(fold)
        fixed = _fixed_configs(kept)
        configs = {r.config_hash: dict(r.config) for r in kept}
        for value in values:
            recommender = train(kept, value)
            for task_id in held_out:
                measured = folds.scores[task_id]
                common = [h for h in fixed if np.isfinite(measured.get(h, np.nan))]
                if len(common) < _MIN_COMMON:
                    found[value].append(np.nan)
                    continue
                predicted, _ = recommender.predict(
                    features[task_id].as_dict(),
                    [configs[h] for h in common],
                    folds.rows.get(task_id),
                )
                found[value].append(_spearman(predicted, [measured[h] for h in common]))
    table = {v: np.asarray(rhos) for v, rhos in found.items()}
    measured_tasks = np.all([np.isfinite(t) for t in table.values()], axis=0)
    means = {v: float(t[measured_tasks].mean()) for v, t in table.items()}
    best = max(values, key=lambda v: (means[v], -values.index(v)))
    return LeafChoice(best, means, int(measured_tasks.sum()))


def _fixed_configs(records: Sequence[EvaluationRecord]) -> list[str]:
    """Hashes of the :data:`FIXED_CONFIGS` configs of best mean normalised score."""
    return mean_order(score_matrix(records))[:FIXED_CONFIGS]


def _spearman(predicted: np.ndarray | Sequence[float], measured: Sequence[float]) -> float:
    """Spearman correlation; NaN where either side is constant."""
    a, b = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)
