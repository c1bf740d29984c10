"""Which tasks take part, their families and folds, and which are held out live.

The rules are pool mode's (``metamodel.evaluation.evaluate_pool``), so the
family folds come out identical for the same store, seed and fold count: a task
takes part when it has meta-features and at least two distinct successful
scores; its family is the stored family, else its name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from metamodel.types import EvaluationRecord, RecordStatus, Task

__all__ = ["spread_over_families", "stored_scores", "task_families", "usable_records"]


def usable_records(
    records: Iterable[EvaluationRecord], with_features: Iterable[str]
) -> dict[str, list[EvaluationRecord]]:
    """Records by task, for tasks with meta-features and two distinct successful scores."""
    described = set(with_features)
    by_task: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        if record.task_id in described:
            by_task[record.task_id].append(record)
    return {
        task_id: rs
        for task_id, rs in by_task.items()
        if len({r.score for r in rs if r.status is RecordStatus.OK}) >= 2
    }


def task_families(task_ids: Iterable[str], tasks: Mapping[str, Task]) -> dict[str, str]:
    """Family of each task (its name when it has none)."""
    return {t: tasks[t].family or tasks[t].name for t in task_ids}


def spread_over_families(
    candidates: Sequence[str], families: Mapping[str, str], max_tasks: int | None, seed: int
) -> list[str]:
    """Every candidate, or ``max_tasks`` of them spread over families (one per family, round-robin).

    Families are visited in a seeded random order, each family's tasks in a
    seeded random order too, so the choice is deterministic, covers as many
    families as it can and does not favour names early in the alphabet.
    """
    if max_tasks is None or max_tasks >= len(candidates):
        return sorted(candidates)
    by_family: dict[str, list[str]] = defaultdict(list)
    for task_id in sorted(candidates):
        by_family[families[task_id]].append(task_id)
    rng = np.random.default_rng(seed)
    names = sorted(by_family)
    queues = [
        [str(t) for t in rng.permutation(by_family[names[i]])] for i in rng.permutation(len(names))
    ]
    order = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
    return sorted(order[:max_tasks])


def stored_scores(records: Iterable[EvaluationRecord]) -> dict[str, float]:
    """Mean successful score per config hash on one task; NaN for a config that only failed."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for record in records:
        ok = record.status is RecordStatus.OK and record.score is not None
        grouped[record.config_hash].append(float(record.score) if ok else np.nan)  # type: ignore[arg-type]
    return {
        digest: float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
        for digest, values in grouped.items()
    }
