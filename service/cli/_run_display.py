"""Showing a benchmark run on the terminal: plan header, progress, summary table.

Shared by the commands that run evaluations (``bench run``, ``kb build``,
``model refresh``); the running itself is :mod:`warmstart.benchmarks.runner`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.status import Status
from rich.table import Table

from warmstart.benchmarks.runner import (
    Executor,
    JobResult,
    Plan,
    PlanSpec,
    ProgressLog,
    RunObserver,
    RunSummary,
    describe_plan,
    describe_summary,
    summary_rows,
)
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import RecordStatus
from warmstart.service.cli._common import console

__all__ = ["ProgressBar", "RunDisplay", "print_summary", "progress_callback"]


def print_summary(summary: RunSummary) -> None:
    """Print a run's per-learner table and its one-line summary."""
    table = Table("learner", "done", "ok", "failed", "timeout", title="evaluations this run")
    for row in summary_rows(summary):
        table.add_row(row.learner, str(row.done), str(row.ok), str(row.failed), str(row.timeout))
    console.print(table)
    console.print(describe_summary(summary))


class ProgressBar:
    """A rich progress bar counting results, failures and time-outs; ``stop()`` it at the end."""

    def __init__(self, total: int) -> None:
        self.progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]} timeout {task.fields[timeout]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.failed = 0
        self.timeout = 0
        self.progress.start()
        self.bar: TaskID = self.progress.add_task("evaluating", total=total, failed=0, timeout=0)

    def __call__(self, result: JobResult) -> None:
        self.failed += result.status is RecordStatus.FAILED
        self.timeout += result.status is RecordStatus.TIMEOUT
        self.progress.update(self.bar, advance=1, failed=self.failed, timeout=self.timeout)

    def stop(self) -> None:
        """Stop redrawing the bar (it stays on the screen)."""
        self.progress.stop()


def progress_callback(total: int) -> ProgressBar | ProgressLog:
    """A result callback showing progress: a bar on a terminal, else a line every 30 s.

    Call its ``stop()`` when the run ends.
    """
    if console.is_terminal:
        return ProgressBar(total)
    return ProgressLog(total, lambda line: console.print(line, markup=False))


class RunDisplay(RunObserver):
    """Prints what :func:`~warmstart.benchmarks.runner.run_spec` reports.

    Use as a context manager so that the spinner and progress bar stop even
    when the run raises; :meth:`busy` shows any other long stage the same way.
    """

    def __init__(self) -> None:
        """Show nothing yet: the spinner starts with the first task loaded."""
        self._status: Status | None = None
        self._progress: ProgressBar | ProgressLog | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the spinner and the progress display, if shown."""
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self._progress is not None:
            self._progress.stop()
        self._progress = None

    def busy(self, what: str) -> None:
        """Show ``what`` beside a spinner until the next line is printed."""
        if self._status is None:
            self.stop()
            self._status = console.status(what)
            self._status.start()
        else:
            self._status.update(what)

    def loading(self, task_name: str) -> None:
        """Show which task is loading."""
        self.busy(f"loading {task_name}")

    def planned(self, spec: PlanSpec, plan: Plan) -> None:
        """Print the plan's header, or that there is nothing to do."""
        self.stop()
        console.print(describe_plan(spec, plan))
        if not plan.jobs:
            console.print("nothing to do")

    def running(self, executor: Executor, store: RecordStore, plan: Plan) -> None:
        """Print where the jobs run and start the progress display."""
        console.print(f"running on {executor.describe()} -> {store.url}", markup=False)
        self._progress = progress_callback(len(plan.jobs))

    def result(self, result: JobResult) -> None:
        """Advance the progress display."""
        if self._progress is not None:
            self._progress(result)

    def finished(self, summary: RunSummary) -> None:
        """Stop the progress display and print the summary."""
        self.stop()
        print_summary(summary)
