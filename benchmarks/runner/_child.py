"""The worker child: a separate Python process that evaluates jobs one at a time.

Started by :class:`warmstart.benchmarks.runner._workers.WorkerProcess` with two pipe
file descriptors (jobs in, results out) and a memory limit. Keeping it a plain
subprocess (not a multiprocessing child) lets it run under Dask workers too,
which are daemonic processes. It caches a few loaded tasks, so consecutive
jobs on one task do not reload the data, and exits when the job pipe closes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

_CACHED_TASKS = 3


class PeakMemory:
    """Samples this process's resident memory while an evaluation runs.

    With a limit, growth past it calls ``on_exceed`` (which ends the process):
    resident memory is what a limit must watch, since the libraries we run
    reserve gigabytes of address space they never touch, which makes
    RLIMIT_AS and RLIMIT_DATA useless here.
    """

    def __init__(
        self,
        interval: float = 0.01,
        limit_mb: int = 0,
        on_exceed: Callable[[float], None] | None = None,
    ) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._limit = limit_mb * 2**20 if limit_mb > 0 else None
        self._on_exceed = on_exceed
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._process.memory_info().rss)
            if self._limit is not None and self.peak - self.baseline > self._limit:
                if self._on_exceed is not None:
                    self._on_exceed(self.extra_mb)
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def extra_mb(self) -> float:
        """Peak resident memory above what the process held before, in MiB."""
        return (self.peak - self.baseline) / 2**20


def _error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    text = f"{type(exc).__name__}: {exc}{where}"
    return text[:2000]


def serve(jobs: Connection, results: Connection, memory_limit_mb: int) -> None:
    """Evaluate jobs from ``jobs`` until it closes, sending each result back."""
    from warmstart.benchmarks.runner._jobs import Job, JobResult
    from warmstart.benchmarks.runner._learners import resolve_learner
    from warmstart.benchmarks.runner._protocol import evaluate
    from warmstart.benchmarks.tasks import Suite, TaskData, load_suite
    from warmstart.metamodel.types import RecordStatus

    suites: dict[str, Suite] = {}
    tasks: OrderedDict[tuple[str, str], TaskData] = OrderedDict()

    def load(job: Job) -> TaskData:
        key = (job.suite, job.task_name)
        if key in tasks:
            tasks.move_to_end(key)
            return tasks[key]
        suite = suites.get(job.suite) or suites.setdefault(job.suite, load_suite(job.suite))
        data = suite.load(job.task_name)
        if data.task.task_id != job.task_id:
            raise RuntimeError(
                f"task {job.task_name!r} now has id {data.task.task_id}, the plan expected "
                f"{job.task_id}: its data changed since the plan was made"
            )
        tasks[key] = data
        while len(tasks) > _CACHED_TASKS:
            tasks.popitem(last=False)
        return data

    sending = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with sending:
            results.send(message)

    def exceeded(extra_mb: float) -> None:
        # Called from the sampling thread: tell the parent, then stop at once.
        with contextlib.suppress(OSError):
            send(("memory", extra_mb))
        os._exit(137)

    send(("ready", os.getpid()))
    while True:
        try:
            job: Any = jobs.recv()
        except (EOFError, OSError):
            return
        try:
            data = load(job)
            learner = resolve_learner(job.learner)
            with PeakMemory(limit_mb=memory_limit_mb, on_exceed=exceeded) as memory:
                result = evaluate(job, data, learner)
            result = replace(result, peak_memory_mb=round(memory.extra_mb, 3))
        except MemoryError as exc:
            limit = f"{memory_limit_mb} MiB" if memory_limit_mb else "the machine's memory"
            result = JobResult(
                job, RecordStatus.FAILED, error=f"out of memory (limit {limit}): {exc}"[:2000]
            )
        except Exception as exc:
            result = JobResult(job, RecordStatus.FAILED, error=_error_text(exc))
        try:
            send(("result", result))
        except (BrokenPipeError, OSError):
            return


def main() -> None:
    """Entry point: ``python -m warmstart.benchmarks.runner._child JOBS_FD RESULTS_FD MB``.

    MB is the memory limit in megabytes.
    """
    jobs_fd, results_fd, memory_mb = (int(a) for a in sys.argv[1:4])
    jobs, results = Connection(jobs_fd, writable=False), Connection(results_fd, readable=False)
    # The parent handles interruption; leave quietly.
    with contextlib.suppress(KeyboardInterrupt):
        serve(jobs, results, memory_mb)


if __name__ == "__main__":
    main()
