"""Which tasks take part in an evaluation, their families, and a spread-out subset.

A task takes part when it has meta-features and at least two distinct successful
scores; its family is the stored family, else its name. Pool, live and seeding
evaluations share these rules, so they split and choose tasks alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from metamodel.types import EvaluationRecord, RecordStatus, Task

__all__ = ["spread_over_families", "task_families", "usable_records"]


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
