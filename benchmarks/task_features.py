"""Meta-features of a suite's tasks, computed into the store where it lacks them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from warmstart.benchmarks.tasks import Suite
from warmstart.metamodel.features import FEATURE_VERSION, describe_task
from warmstart.metamodel.store import RecordStore

__all__ = ["describe_suite_tasks"]


def describe_suite_tasks(
    store: RecordStore,
    suite: Suite,
    names: Sequence[str],
    on_task: Callable[[str], None] | None = None,
) -> int:
    """Store the tasks ``names`` of a suite and their meta-features, where not stored yet.

    Byte-identical datasets share a task id, so such a task is stored and
    described once.

    Args:
        store: Where tasks and meta-features are stored.
        suite: The suite the names belong to.
        names: Task names of the suite, as its ``list_tasks`` gives them.
        on_task: Called with each name before it is loaded (progress display).

    Returns:
        How many tasks' meta-features (version ``FEATURE_VERSION``) were computed.

    Raises:
        NotFoundError: A name is not a task of the suite.
        InvalidRequestError: A task's data are unreadable or unusable.
    """
    have = set(store.list_task_features(FEATURE_VERSION))
    stored = {task.task_id for task in store.list_tasks()}
    computed = 0
    for name in names:
        if on_task is not None:
            on_task(name)
        data = suite.load(name)
        if data.task.task_id not in stored:
            store.put_task(data.task)
            stored.add(data.task.task_id)
        if data.task.task_id in have:
            continue
        store.put_task_features(
            [describe_task(data.task.task_id, data.X, data.y, data.task.task_type)]
        )
        have.add(data.task.task_id)
        computed += 1
    return computed
