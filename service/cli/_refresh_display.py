"""How ``warmstart refresh`` shows a refresh: its steps as they come, then the outcome."""

from __future__ import annotations

from collections.abc import Callable

from rich.status import Status
from rich.table import Table

from warmstart.benchmarks.runner import Executor, JobResult, RunSummary
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.refresh import GateResult, TrainingSnapshot
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import RecordSource
from warmstart.service.cli._common import console, err_console
from warmstart.service.cli._run_display import print_summary, progress_callback
from warmstart.service.refresh import (
    RefreshObserver,
    RefreshPlan,
    RefreshResult,
    ServedTrainingData,
)

__all__ = ["RefreshDisplay", "print_result"]


class RefreshDisplay(RefreshObserver):
    """Prints the refresh's steps: spinners while loading, training and comparing."""

    def __init__(self) -> None:
        self._status: Status | None = None
        self._progress: Callable[[JobResult], None] | None = None

    def __enter__(self) -> RefreshDisplay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spin(self, text: str) -> None:
        if self._status is None:
            self._status = console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def stop(self) -> None:
        """Stop any spinner or progress bar."""
        if self._status is not None:
            self._status.stop()
            self._status = None
        stop = getattr(self._progress, "stop", None)
        if stop is not None:
            stop()
        self._progress = None

    def loading(self, task_name: str) -> None:
        self._spin(f"loading {task_name}")

    def planned(self, plan: RefreshPlan) -> None:
        self.stop()
        console.print(
            f"refresh of {plan.space} from {plan.suite}: {len(plan.task_names)} tasks in the "
            f"suite, {len(plan.new_tasks)} new (no records yet), {len(plan.known_tasks)} known; "
            f"serving {plan.serving or 'nothing'}; budget {plan.budget}",
            markup=False,
        )
        shown = ", ".join(f"{n} {reason}" for reason, n in plan.reasons().items()) or "none"
        console.print(f"selected {len(plan.candidates)} evaluations: {shown}")
        if plan.new_task_names():
            console.print("new tasks: " + ", ".join(plan.new_task_names()), markup=False)
        if not plan.candidates:
            console.print("nothing to evaluate")

    def running(self, executor: Executor, store: RecordStore, jobs: int) -> None:
        console.print(f"running on {executor.describe()} -> {store.url}", markup=False)
        self._progress = progress_callback(jobs)

    def result(self, result: JobResult) -> None:
        if self._progress is not None:
            self._progress(result)

    def evaluated(self, summary: RunSummary) -> None:
        self.stop()
        print_summary(summary)

    def training(self, snapshot: TrainingSnapshot) -> None:
        sources = snapshot.by_source()
        shown = ", ".join(f"{source} {n}" for source, n in sources.items())
        client = sources.get(RecordSource.CLIENT.value, 0)
        note = (
            f"{client} client-reported records included"
            if client
            else "no client-reported records yet (they would be included)"
        )
        console.print(
            f"training data: all {len(snapshot.records)} records of the space ({shown}); {note}",
            markup=False,
        )
        self._spin(f"training {snapshot.space.name}...")

    def trained(self, bundle: ModelBundle) -> None:
        self.stop()
        console.print(
            f"trained {bundle.version} on {bundle.training['records']} records of "
            f"{bundle.training['tasks']} tasks",
            markup=False,
        )

    def comparing(self, served: ServedTrainingData) -> None:
        if served.max_record_id is not None:
            how = f"records up to id {served.max_record_id} (stored with {served.version})"
        else:
            how = f"records created before {served.version} (no cut-off stored with it)"
        check = {
            True: "; rebuilt exactly (data hash matches)",
            False: "; data hash differs",
            None: "",
        }[served.hash_matches]
        console.print(f"serving model's training data: {served.records} {how}{check}", markup=False)
        self._spin("comparing on held-out families...")

    def gate_progress(self, line: str) -> None:
        self._spin(line)

    def warning(self, message: str) -> None:
        err_console.print(f"warning: {message}", markup=False)


def _print_gate(gate: GateResult, records: int, served: ServedTrainingData) -> None:
    table = Table("trained on", "records", f"mean regret@{gate.k}", title="publish gate")
    table.add_row("current records (new)", str(records), f"{gate.mean_candidate:.4f}")
    table.add_row(f"{served.version}'s records", str(served.records), f"{gate.mean_serving:.4f}")
    console.print(table)
    console.print(
        f"{len(gate.candidate)} held-out tasks, {gate.n_folds} folds, tolerance {gate.tolerance:g}"
        + (f", folds skipped: {list(gate.skipped_folds)}" if gate.skipped_folds else "")
    )


def print_result(result: RefreshResult) -> None:
    """Print how a refresh ended: the gate's table if it ran, why, and what was published."""
    if result.gate is not None and result.served is not None:
        _print_gate(result.gate, result.records, result.served)
    console.print(result.reason, markup=False)
    if result.published is None:
        return
    version = result.published
    before = result.plan.serving if result.plan is not None else None
    console.print(
        f"published {version.version} -> {version.path}; it now serves space "
        f"{version.space_name} (was {before or 'nothing'}). "
        "Earlier versions are kept: `warmstart model rollback --space "
        f"{version.space_name}` serves the previous one again.",
        markup=False,
    )
