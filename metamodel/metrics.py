"""The primary score of each task type, defined once for the whole system.

Scores are "higher is better": ROC AUC (one-vs-rest macro for multiclass) for
classification and R² for regression. The runner records them, the store keeps
them as ``score``, and the surrogate and the evaluation read them.
"""

from __future__ import annotations

from types import MappingProxyType

from warmstart.metamodel.types import TaskType

__all__ = [
    "CLASSIFICATION_METRICS",
    "PRIMARY_METRIC",
    "REGRESSION_METRICS",
    "metrics_for",
    "primary_metric",
]

PRIMARY_METRIC = MappingProxyType(
    {TaskType.BINARY: "roc_auc", TaskType.MULTICLASS: "roc_auc", TaskType.REGRESSION: "r2"}
)
"""Task type → name of the metric used as the record's ``score``."""

CLASSIFICATION_METRICS = ("roc_auc", "log_loss", "balanced_accuracy", "accuracy")
REGRESSION_METRICS = ("r2", "rmse", "mae")


def primary_metric(task_type: TaskType | str) -> str:
    """Return the name of the primary (higher is better) metric of a task type."""
    return PRIMARY_METRIC[TaskType(task_type)]


def metrics_for(task_type: TaskType | str) -> tuple[str, ...]:
    """Return every metric recorded for a task type."""
    if TaskType(task_type) is TaskType.REGRESSION:
        return REGRESSION_METRICS
    return CLASSIFICATION_METRICS
