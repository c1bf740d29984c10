"""What travels between the runner and its workers: jobs and their results.

Both are small, picklable and free of data: a worker loads the task's data
itself from the suite spec and caches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warmstart.metamodel.types import ConfigValue, RecordStatus

__all__ = ["Job", "JobResult", "Protocol"]


@dataclass(frozen=True)
class Protocol:
    """How a config is evaluated on a task.

    Attributes:
        folds: k of (stratified, for classification) k-fold cross-validation;
            ignored when ``holdout`` is set.
        holdout: Fraction of rows held out for a single train/test split.
        row_cap: Largest number of rows used; bigger tasks are subsampled
            (stratified, seeded) inside the evaluation, never in the stored data.
    """

    folds: int = 5
    holdout: float | None = None
    row_cap: int | None = 10_000

    def describe(self) -> str:
        """Short text for logs and docs."""
        split = f"holdout {self.holdout:g}" if self.holdout else f"{self.folds}-fold CV"
        cap = f", rows capped at {self.row_cap:,}" if self.row_cap else ""
        return split + cap


@dataclass(frozen=True)
class Job:
    """One evaluation: a learner's config on a task with a seed."""

    suite: str
    task_name: str
    task_id: str
    learner: str
    space_id: str
    config: dict[str, ConfigValue]
    config_hash: str
    seed: int
    protocol: Protocol
    fidelity: float = 1.0

    @property
    def key(self) -> tuple[str, str, str, int, float]:
        """The record key this job fills."""
        return (self.task_id, self.space_id, self.config_hash, self.seed, self.fidelity)


@dataclass(frozen=True)
class JobResult:
    """What an evaluation produced; failures carry their error text."""

    job: Job
    status: RecordStatus
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    peak_memory_mb: float | None = None
    error: str | None = None
