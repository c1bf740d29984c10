"""Meta-features as stored per task and feature version."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from warmstart.metamodel.errors import InvalidRequestError, NotFoundError
from warmstart.metamodel.features._compute import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    compute_meta_features,
)
from warmstart.metamodel.types import TaskFeatures, TaskType

__all__ = ["TaskFeatureStore", "describe_task", "ensure_task_features"]


class TaskFeatureStore(Protocol):
    """What :func:`ensure_task_features` needs of a store (``RecordStore`` has it)."""

    def get_task_features(self, task_id: str, version: str) -> TaskFeatures:
        """Return the stored features; raise ``NotFoundError`` when there are none."""
        ...

    def put_task_features(self, features: Iterable[TaskFeatures]) -> int:
        """Store features unless stored already; return how many were new."""
        ...


def describe_task(task_id: str, X: Any, y: Any, task_type: TaskType | str) -> TaskFeatures:
    """Compute a task's meta-features under the current :data:`FEATURE_VERSION`.

    Uses the default seed and row cap, so that every stored feature vector of
    one version is computed the same way.

    Args:
        task_id: The task's key.
        X: Features (DataFrame or 2-D array).
        y: Target, one value per row.
        task_type: Binary, multiclass or regression.

    Returns:
        The features, named :data:`FEATURE_NAMES` in order.

    Raises:
        InvalidRequestError: If ``task_id`` is empty or the data are malformed
            (see :func:`compute_meta_features`).
    """
    if not isinstance(task_id, str) or not task_id:
        raise InvalidRequestError(f"task_id must be a non-empty string, got {task_id!r}")
    values = compute_meta_features(X, y, task_type)
    return TaskFeatures(
        task_id=task_id,
        version=FEATURE_VERSION,
        names=FEATURE_NAMES,
        values=tuple(values[name] for name in FEATURE_NAMES),
    )


def ensure_task_features(
    store: TaskFeatureStore, task_id: str, X: Any, y: Any, task_type: TaskType | str
) -> TaskFeatures:
    """Return a task's stored features of :data:`FEATURE_VERSION`, computing them if absent.

    Features are stored per task and feature version, so a new version is
    computed from the data alone: no benchmark needs to run again.

    Args:
        store: Where features are kept (a ``RecordStore``).
        task_id: The task's key; the task must be in the store.
        X: Features (DataFrame or 2-D array).
        y: Target, one value per row.
        task_type: Binary, multiclass or regression.

    Returns:
        The stored features (those of a concurrent writer if it stored first).

    Raises:
        InvalidRequestError: If the data are malformed.
        NotFoundError: If the task is not in the store.
    """
    try:
        return store.get_task_features(task_id, FEATURE_VERSION)
    except NotFoundError:
        pass
    features = describe_task(task_id, X, y, task_type)
    if store.put_task_features([features]) == 0:
        return store.get_task_features(task_id, FEATURE_VERSION)
    return features
