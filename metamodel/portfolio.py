"""What past tasks say about configs: the score matrix, each task's best, a greedy portfolio.

The benchmark runner evaluates the same configs on every task, so the records
of a space form a (tasks × configs) matrix of normalised scores. From it:
each task's best configs (for "what worked on similar tasks"), and a greedy
portfolio: configs chosen one at a time to maximise the mean over tasks of the
best normalised score within the portfolio (auto-sklearn 2.0, TabRepo).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from warmstart.metamodel.surrogate._table import Normalisation, normalise_scores
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, RecordStatus

__all__ = [
    "ScoreMatrix",
    "best_single",
    "config_means",
    "greedy_portfolio",
    "mean_order",
    "primary_records",
    "score_matrix",
]


def primary_records(records: Iterable[EvaluationRecord]) -> list[EvaluationRecord]:
    """Per task, the records of its primary fidelity: the one with the most distinct configs
    (ties: the larger fidelity).

    A task evaluated at several row caps (fidelities) has scores that are not comparable
    across them: more rows, better scores. What compares configs on a task (the score
    matrix, the pool evaluation) reads one fidelity per task, the one that covers most
    configs; the surrogate learns from all of them, with the training size as an input.
    """
    by_task: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        by_task[record.task_id].append(record)
    kept: list[EvaluationRecord] = []
    for task_records in by_task.values():
        configs: dict[float, set[str]] = defaultdict(set)
        for record in task_records:
            configs[record.fidelity].add(record.config_hash)
        if len(configs) == 1:
            kept += task_records
            continue
        primary = max(configs, key=lambda f: (len(configs[f]), f))
        kept += [r for r in task_records if r.fidelity == primary]
    return kept


@dataclass(frozen=True)
class ScoreMatrix:
    """Normalised scores of configs (columns) on tasks (rows); NaN where not evaluated.

    Failed and timed-out evaluations count as 0, the worst.
    """

    task_ids: tuple[str, ...]
    config_hashes: tuple[str, ...]
    configs: tuple[dict[str, ConfigValue], ...]
    scores: np.ndarray

    def best_of_task(self, task_id: str, n: int = 3) -> list[int]:
        """Column indices of a task's ``n`` best configs."""
        row = self.scores[self.task_ids.index(task_id)]
        order = np.argsort(-np.nan_to_num(row, nan=-1.0), kind="stable")
        return [int(i) for i in order[:n] if np.isfinite(row[i])]

    def without_tasks(self, task_ids: Iterable[str]) -> ScoreMatrix:
        """The matrix without some tasks (for leave-task-out evaluation)."""
        drop = set(task_ids)
        keep = [i for i, t in enumerate(self.task_ids) if t not in drop]
        return ScoreMatrix(
            tuple(self.task_ids[i] for i in keep),
            self.config_hashes,
            self.configs,
            self.scores[keep],
        )


def config_means(records: Iterable[EvaluationRecord]) -> dict[str, float]:
    """Mean score per config hash over one task's records (seeds, repeats); NaN for a
    config whose every evaluation failed or timed out."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for record in records:
        ok = record.status is RecordStatus.OK and record.score is not None
        grouped[record.config_hash].append(float(record.score) if ok else np.nan)  # type: ignore[arg-type]
    return {h: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan for h, v in grouped.items()}


def score_matrix(
    records: Iterable[EvaluationRecord], normalisation: Normalisation = "minmax"
) -> ScoreMatrix:
    """Build the matrix from a space's records (each task's primary fidelity, see
    :func:`primary_records`; mean over seeds)."""
    by_task: dict[str, list[EvaluationRecord]] = defaultdict(list)
    configs: dict[str, dict[str, ConfigValue]] = {}
    for record in primary_records(records):
        configs.setdefault(record.config_hash, dict(record.config))
        by_task[record.task_id].append(record)
    task_ids = tuple(sorted(by_task))
    hashes = tuple(sorted(configs))
    column = {h: i for i, h in enumerate(hashes)}
    scores = np.full((len(task_ids), len(hashes)), np.nan)
    for row, task_id in enumerate(task_ids):
        means = config_means(by_task[task_id])
        finite = [h for h, v in means.items() if np.isfinite(v)]
        if finite:
            normalised = normalise_scores([means[h] for h in finite], normalisation)
            for h, value in zip(finite, normalised, strict=True):
                scores[row, column[h]] = value
        for h, value in means.items():
            if not np.isfinite(value):
                scores[row, column[h]] = 0.0
    return ScoreMatrix(task_ids, hashes, tuple(configs[h] for h in hashes), scores)


def greedy_portfolio(matrix: ScoreMatrix, size: int, *, min_coverage: float = 0.5) -> list[int]:
    """Greedily choose ``size`` columns maximising the mean over tasks of the best score.

    Only configs evaluated on at least ``min_coverage`` of the tasks are eligible
    (a config seen on two tasks says little); a missing score counts as 0.
    """
    scores = matrix.scores
    if scores.size == 0:
        return []
    coverage = np.isfinite(scores).mean(axis=0)
    eligible = np.flatnonzero(coverage >= min_coverage)
    if len(eligible) == 0:
        eligible = np.arange(scores.shape[1])
    filled = np.nan_to_num(scores, nan=0.0)
    chosen: list[int] = []
    best = np.zeros(scores.shape[0])
    for _ in range(min(size, len(eligible))):
        gains = np.maximum(best[:, None], filled[:, eligible]).mean(axis=0)
        gains[np.isin(eligible, chosen)] = -np.inf
        pick = int(eligible[int(np.argmax(gains))])
        chosen.append(pick)
        best = np.maximum(best, filled[:, pick])
    return chosen


def best_single(matrix: ScoreMatrix, *, min_coverage: float = 0.5) -> int:
    """The one config with the best mean normalised score (the first portfolio pick)."""
    picked = greedy_portfolio(matrix, 1, min_coverage=min_coverage)
    return picked[0]


def mean_order(matrix: ScoreMatrix) -> list[str]:
    """Config hashes by mean normalised score over the training tasks (missing = 0)."""
    means = np.nan_to_num(matrix.scores, nan=0.0).mean(axis=0)
    return [matrix.config_hashes[i] for i in np.argsort(-means, kind="stable")]
