"""Running a plan: results become records, written in batches as they arrive."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

from warmstart.benchmarks.runner._jobs import Job, JobResult
from warmstart.benchmarks.runner._plan import Plan
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import EvaluationRecord, RecordSource, RecordStatus

__all__ = ["Executor", "RunSummary", "run_plan", "to_record"]


class Executor(TypingProtocol):
    """Something that evaluates jobs: local worker processes or a Dask cluster."""

    def describe(self) -> str:
        """Short text for the run's header."""
        ...

    def run(self, jobs: Iterable[Job]) -> Iterator[JobResult]:
        """Evaluate jobs, yielding results as they finish."""
        ...


@dataclass
class RunSummary:
    """What a run did, per learner and status."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    stored: int = 0
    already_stored: int = 0
    interrupted: bool = False
    seconds: float = 0.0

    def add(self, learner: str, status: RecordStatus) -> None:
        """Count one finished evaluation."""
        self.counts[(learner, status.value)] += 1

    @property
    def finished(self) -> int:
        """Evaluations that finished in this run, any status."""
        return sum(self.counts.values())

    def learners(self) -> list[str]:
        """Learners with at least one finished evaluation, sorted."""
        return sorted({learner for learner, _ in self.counts})


def to_record(result: JobResult) -> EvaluationRecord:
    """The store record of a job's result."""
    job = result.job
    return EvaluationRecord(
        task_id=job.task_id,
        space_id=job.space_id,
        config=job.config,
        config_hash=job.config_hash,
        score=result.score if result.status is RecordStatus.OK else None,
        status=result.status,
        seed=job.seed,
        fidelity=job.fidelity,
        metrics=result.metrics,
        fit_seconds=result.fit_seconds,
        predict_seconds=result.predict_seconds,
        peak_memory_mb=result.peak_memory_mb,
        error=result.error,
        source=RecordSource.BENCHMARK,
    )


def run_plan(
    store: RecordStore,
    plan: Plan,
    executor: Executor,
    *,
    batch_size: int = 50,
    flush_seconds: float = 5.0,
    on_result: Callable[[JobResult], None] | None = None,
) -> RunSummary:
    """Run the plan's jobs and store every result, failures included.

    Results are written in batches (every ``batch_size`` results or
    ``flush_seconds``); a Ctrl-C stops the workers, writes what has finished
    and returns with ``interrupted`` set. A run killed outright loses at most
    the unwritten batch, which the next run of the same plan redoes.
    """
    summary = RunSummary(already_stored=plan.already_stored)
    learner_of = {space.space_id: name for name, space in plan.spaces.items()}
    buffer: list[EvaluationRecord] = []
    last_flush = time.monotonic()
    start = time.monotonic()

    def flush() -> None:
        nonlocal buffer, last_flush
        if buffer:
            summary.stored += store.add_records(buffer)
            buffer = []
        last_flush = time.monotonic()

    results = executor.run(plan.jobs)
    try:
        for result in results:
            buffer.append(to_record(result))
            summary.add(learner_of.get(result.job.space_id, result.job.learner), result.status)
            if on_result is not None:
                on_result(result)
            if len(buffer) >= batch_size or time.monotonic() - last_flush >= flush_seconds:
                flush()
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        flush()
        summary.seconds = time.monotonic() - start
    return summary
