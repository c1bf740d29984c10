"""Which tasks take part, their families and folds, and which are held out live.

The rules (which tasks take part, their families) are metamodel.evaluation's,
shared with pool mode, so the family folds come out identical for the same
store, seed and fold count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from warmstart.benchmarks.learners import Learner, get_learner
from warmstart.benchmarks.runner import Protocol
from warmstart.benchmarks.tasks import Suite, TaskData
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation import spread_over_families, task_families, usable_records
from warmstart.metamodel.spaces import make_search_space
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import EvaluationRecord, RecordStatus, SearchSpace, Task

__all__ = [
    "comparable_scores",
    "evaluated_rows",
    "held_out_data",
    "learner_of_stored_space",
    "spread_over_families",
    "stored_scores",
    "suite_names",
    "task_families",
    "usable_records",
    "within_rows",
]


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


def evaluated_rows(data: TaskData, protocol: Protocol) -> int:
    """Rows an evaluation of the task uses: all, or the row cap (as :func:`cap_rows` takes)."""
    rows = len(data.y)
    return rows if protocol.row_cap is None else min(rows, protocol.row_cap)


def comparable_scores(
    records: Iterable[EvaluationRecord], rows_used: int, protocol: Protocol, seed: int
) -> dict[str, float]:
    """Stored scores measured as the live ones are: same rows, CV folds and seed.

    A record evaluated on a row-capped sample scores a different problem than
    the whole table, so it only takes part when the live evaluation uses the
    same rows.
    """
    same = [
        r
        for r in records
        if r.status is RecordStatus.OK
        and r.seed == seed
        and r.metrics.get("rows_used") == rows_used
        and r.metrics.get("folds") == protocol.folds
    ]
    return stored_scores(same)


def suite_names(suite: Suite, task_names: Mapping[str, str]) -> dict[str, str]:
    """Name in the suite of each stored task that comes from it."""
    prefix = f"{suite.name}/"
    listed = set(suite.task_names())
    out = {}
    for task_id, name in task_names.items():
        short = name.removeprefix(prefix)
        if name.startswith(prefix) and short in listed:
            out[task_id] = short
    return out


def within_rows(
    names: Mapping[str, str],
    tasks: Mapping[str, Task],
    min_rows: int | None = None,
    max_rows: int | None = None,
) -> dict[str, str]:
    """The entries of ``names`` (task id -> suite name) whose task has between ``min_rows``
    and ``max_rows`` rows (the store's count; None: no bound)."""
    return {
        task_id: name
        for task_id, name in names.items()
        if (min_rows is None or tasks[task_id].n_rows >= min_rows)
        and (max_rows is None or tasks[task_id].n_rows <= max_rows)
    }


def held_out_data(
    suite: Suite, suite_name: str, task_id: str, name: str, notes: list[str]
) -> TaskData | None:
    """The task's data from the suite; ``None``, with a note, when they are another task's."""
    data = suite.load(suite_name)
    if data.task.task_id != task_id:
        notes.append(
            f"{name} skipped: its data in the suite have id "
            f"{data.task.task_id}, the records' task is {task_id}"
        )
        return None
    return data


def learner_of_stored_space(
    store: RecordStore, space_name: str, trained: str
) -> tuple[Learner, SearchSpace]:
    """The learner of a space and the stored space, checked to be the learner's current one.

    Args:
        store: The record store.
        space_name: The space's (and learner's) name.
        trained: What could not be trained on a stale space, for the error.

    Raises:
        NotFoundError: No space or learner of that name.
        FailedPreconditionError: The stored space differs from the learner's.
    """
    learner = get_learner(space_name)
    space = store.find_space(space_name)
    if make_search_space(learner.name, learner.search_space()).space_id != space.space_id:
        raise FailedPreconditionError(
            f"the stored space {space_name!r} ({space.space_id}) is not the learner's current "
            f"space: its {trained} could not be trained; re-run `warmstart bench run`"
        )
    return learner, space
