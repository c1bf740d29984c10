"""What a refresh reports as it goes, for a command line or a log to show."""

from __future__ import annotations

from warmstart.benchmarks.runner import Executor, JobResult, RunSummary
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.refresh import TrainingSnapshot
from warmstart.metamodel.store import RecordStore
from warmstart.service.refresh._result import RefreshPlan, ServedTrainingData

__all__ = ["RefreshObserver"]


class RefreshObserver:
    """Told of each step of :func:`~warmstart.service.refresh.refresh_space`.

    Every method does nothing here; subclass it to show progress. The steps
    come in this order, each only if reached: ``loading`` (per task),
    ``planned``, ``running``, ``result`` (per evaluation), ``evaluated``,
    ``training``, ``trained``, ``comparing``, ``gate_progress`` (per fold).
    ``warning`` can come at any time. An exception raised here stops the
    refresh as one raised by the step would (``KeyboardInterrupt``: interrupted).
    """

    def loading(self, task_name: str) -> None:
        """A task of the suite is being loaded (and registered)."""

    def planned(self, plan: RefreshPlan) -> None:
        """The suite's tasks are known and the evaluations chosen."""

    def running(self, executor: Executor, store: RecordStore, jobs: int) -> None:
        """``jobs`` evaluations are about to run on ``executor`` into ``store``."""

    def result(self, result: JobResult) -> None:
        """One evaluation finished."""

    def evaluated(self, summary: RunSummary) -> None:
        """The evaluations ended (all done, or interrupted: ``summary.interrupted``)."""

    def training(self, snapshot: TrainingSnapshot) -> None:
        """The training data is read: every record of the space now."""

    def trained(self, bundle: ModelBundle) -> None:
        """A bundle was trained on the snapshot's records (not registered yet)."""

    def comparing(self, served: ServedTrainingData) -> None:
        """The gate starts: the serving model's training data is rebuilt."""

    def gate_progress(self, line: str) -> None:
        """A line on the gate's progress (one per fold)."""

    def warning(self, message: str) -> None:
        """Something went wrong that does not stop the refresh."""
