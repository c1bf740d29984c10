"""Running a spec end to end: workers, executor, SIGTERM handling, progress and summary.

What ``warmstart bench run``, ``warmstart kb build`` and ``warmstart model
refresh`` share around :func:`~warmstart.benchmarks.runner.run_plan`. Nothing
here prints: progress and the plan's header go to a :class:`RunObserver`, and
the summary comes back as rows and a sentence for the caller to show.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from warmstart.benchmarks.runner._dask import DaskExecutor
from warmstart.benchmarks.runner._jobs import JobResult
from warmstart.benchmarks.runner._plan import Plan, PlanSpec, build_plan
from warmstart.benchmarks.runner._run import Executor, RunSummary, run_plan
from warmstart.benchmarks.runner._workers import LocalPool
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import RecordStatus

__all__ = [
    "ProgressLog",
    "RunObserver",
    "SummaryRow",
    "describe_plan",
    "describe_summary",
    "make_executor",
    "resolve_workers",
    "run_interruptible",
    "run_spec",
    "sigterm_as_interrupt",
    "summary_rows",
]


def resolve_workers(workers: int | None) -> int:
    """The number of local worker processes: ``workers``, else the CPU count.

    Raises:
        InvalidRequestError: ``workers`` is below 1.
    """
    n_workers = workers if workers is not None else os.cpu_count() or 1
    if n_workers < 1:
        raise InvalidRequestError(f"--workers must be >= 1, got {n_workers}")
    return n_workers


def make_executor(workers: int, dask: str | None, time_limit: float, memory_limit: int) -> Executor:
    """A Dask executor when ``dask`` names a scheduler (or ``local:N``), else a local pool.

    Args:
        workers: Local worker processes (ignored with ``dask``).
        dask: A Dask scheduler address, ``local:N``, or None.
        time_limit: Wall seconds per evaluation.
        memory_limit: MiB one evaluation may add to its worker; 0: no limit.
    """
    if dask:
        return DaskExecutor(dask, time_limit, memory_limit)
    return LocalPool(workers, time_limit, memory_limit)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM raise KeyboardInterrupt while the block runs, as Ctrl-C does.

    Schedulers and `kill` stop batch jobs with SIGTERM; this lets them stop
    cleanly. The previous handler is restored on the way out. Only usable in
    the main thread (a Python signal-handling rule).
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_interruptible(
    store: RecordStore,
    plan: Plan,
    executor: Executor,
    batch_size: int = 50,
    on_result: Callable[[JobResult], None] | None = None,
) -> RunSummary:
    """Run a plan's jobs into the store; close the executor whatever happens.

    SIGTERM, like Ctrl-C, stops the run after saving what finished; the summary
    then has ``interrupted`` set, and running the same plan again resumes.

    Args:
        store: Where the records go.
        plan: The jobs to run.
        executor: Local pool or Dask executor; closed on the way out.
        batch_size: Records written per batch.
        on_result: Called with each finished job's result (progress display).
    """
    try:
        with sigterm_as_interrupt():
            return run_plan(store, plan, executor, batch_size=batch_size, on_result=on_result)
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()


class RunObserver:
    """What :func:`run_spec` reports as it goes; the default methods do nothing.

    A command line subclasses it to print the plan's header and progress.
    """

    def loading(self, task_name: str) -> None:
        """A task of the suite is being loaded."""

    def planned(self, spec: PlanSpec, plan: Plan) -> None:
        """The plan is built (``plan.jobs`` may be empty: nothing to do)."""

    def running(self, executor: Executor, store: RecordStore, plan: Plan) -> None:
        """The plan's jobs are about to run on ``executor``."""

    def result(self, result: JobResult) -> None:
        """One evaluation finished."""

    def finished(self, summary: RunSummary) -> None:
        """The run ended (completed or interrupted); not called when nothing ran."""


def run_spec(
    store: RecordStore,
    spec: PlanSpec,
    *,
    workers: int,
    dask: str | None,
    time_limit: float,
    memory_limit: int,
    batch_size: int = 50,
    observer: RunObserver | None = None,
) -> RunSummary:
    """Plan a spec against the store and run what is missing.

    What ``warmstart bench run`` does once its options are checked; a
    knowledge-base build runs each step of its plan through it.

    Args:
        store: Where tasks, spaces and records are stored.
        spec: What to evaluate.
        workers: Local worker processes (when ``dask`` is not given).
        dask: A Dask scheduler address, or ``local:N``.
        time_limit: Wall seconds per evaluation.
        memory_limit: MiB one evaluation may add to its worker; 0: no limit.
        batch_size: Records written per batch.
        observer: Told of the plan, each result and the end of the run.

    Returns:
        What the run did; ``interrupted`` if SIGTERM or Ctrl-C stopped it (every
        finished evaluation is saved, so running the same spec again resumes).
        With nothing left to run, an empty summary.

    Raises:
        InvalidRequestError: The spec names an unknown suite, learner or task.
    """
    observer = observer or RunObserver()
    plan = build_plan(spec, store, on_task=observer.loading)
    observer.planned(spec, plan)
    if not plan.jobs:
        return RunSummary(already_stored=plan.already_stored)
    executor = make_executor(workers, dask, time_limit, memory_limit)
    observer.running(executor, store, plan)
    summary = run_interruptible(store, plan, executor, batch_size, on_result=observer.result)
    observer.finished(summary)
    return summary


def describe_plan(spec: PlanSpec, plan: Plan) -> str:
    """One line on a plan: its size, protocol, and how much is stored already."""
    return (
        f"plan: {len(plan.tasks)} tasks x {len(plan.spaces)} learners x {spec.n_configs} configs "
        f"x {len(spec.seeds)} seeds = {plan.total} evaluations ({spec.protocol.describe()}); "
        f"{plan.already_stored} already stored, {len(plan.jobs)} to run"
    )


@dataclass(frozen=True)
class SummaryRow:
    """One learner's evaluations in a run, by status."""

    learner: str
    ok: int
    failed: int
    timeout: int

    @property
    def done(self) -> int:
        """Evaluations of this learner that finished, any status."""
        return self.ok + self.failed + self.timeout


def summary_rows(summary: RunSummary) -> list[SummaryRow]:
    """Per learner (sorted), how many evaluations ended ok, failed or timed out."""
    return [
        SummaryRow(
            learner=learner,
            ok=summary.counts[(learner, RecordStatus.OK.value)],
            failed=summary.counts[(learner, RecordStatus.FAILED.value)],
            timeout=summary.counts[(learner, RecordStatus.TIMEOUT.value)],
        )
        for learner in summary.learners()
    ]


def describe_summary(summary: RunSummary) -> str:
    """One sentence on a run: evaluations, seconds, records stored and already stored."""
    return (
        f"{summary.finished} evaluations in {summary.seconds:.1f} s, {summary.stored} new records "
        f"stored, {summary.already_stored} were already stored"
    )


class ProgressLog:
    """Plain progress lines for logs: one every ``interval`` seconds and one at the end.

    Pass an instance as ``on_result``; each line goes to ``emit``.
    """

    def __init__(self, total: int, emit: Callable[[str], None], interval: float = 30.0) -> None:
        """Count towards ``total`` results, sending lines to ``emit``."""
        self.total = total
        self.emit = emit
        self.interval = interval
        self.done = 0
        self.failed = 0
        self.timeout = 0
        self._started = time.monotonic()
        self._last = self._started

    def __call__(self, result: JobResult) -> None:
        """Count one result; emit a line if ``interval`` passed or all are done."""
        self.done += 1
        self.failed += result.status is RecordStatus.FAILED
        self.timeout += result.status is RecordStatus.TIMEOUT
        now = time.monotonic()
        if now - self._last < self.interval and self.done != self.total:
            return
        self._last = now
        rate = self.done / max(now - self._started, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        self.emit(
            f"progress {self.done}/{self.total} (failed {self.failed}, timeout {self.timeout}), "
            f"elapsed {now - self._started:.0f} s, eta {eta:.0f} s"
        )

    def stop(self) -> None:
        """The run ended; nothing to stop (a progress bar shown instead would stop here)."""
