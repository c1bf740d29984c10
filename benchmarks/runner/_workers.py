"""Worker processes with a wall-time and a memory limit, and a local pool of them.

Each :class:`WorkerProcess` is a long-lived child (``_child.py``) that
evaluates one job at a time. A job that runs past the time limit gets its
process killed and becomes a ``timeout`` result; a process that dies (a crash
in native code, the kernel's OOM killer) turns its job into a ``failed``
result. Either way a fresh process takes its place and the run goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from warmstart.benchmarks.runner._jobs import Job, JobResult
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.types import RecordStatus

__all__ = ["LocalPool", "WorkerProcess"]

_STARTUP_SECONDS = 120.0
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class WorkerProcess:
    """One child process evaluating one job at a time under limits."""

    def __init__(self, memory_limit_mb: int = 0) -> None:
        self.memory_limit_mb = memory_limit_mb
        self.job: Job | None = None
        self.job_started = 0.0
        self.ready = False
        self.startup_failures = 0
        self._log: Any = None
        self._process: subprocess.Popen[bytes] | None = None
        self._jobs: Connection | None = None
        self.results: Connection | None = None
        self.start()

    def start(self) -> None:
        """Start a fresh child process (it reports ready once imports are done)."""
        jobs_read, jobs_write = os.pipe()
        results_read, results_write = os.pipe()
        if self._log is not None:
            self._log.close()
        # The child's stderr goes to a file: a pipe could fill up and block it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        env = dict(os.environ)
        env.update(dict.fromkeys(_THREAD_VARS, "1"))
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "warmstart.benchmarks.runner._child",
                str(jobs_read),
                str(results_write),
                str(self.memory_limit_mb),
            ],
            pass_fds=(jobs_read, results_write),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            # Its own session: Ctrl-C reaches the runner, which stops workers itself.
            start_new_session=True,
        )
        os.close(jobs_read)
        os.close(results_write)
        self._jobs = Connection(jobs_write, readable=False)
        self.results = Connection(results_read, writable=False)
        self.ready = False
        self.exiting = False  # the child said it is exiting (out of memory)
        self.job = None
        self.started = time.monotonic()

    @property
    def pid(self) -> int | None:
        """The child's process id (None before it starts)."""
        return None if self._process is None else self._process.pid

    @property
    def pids(self) -> list[int]:
        """Process ids (here just the child's), for measurements."""
        return [] if self.pid is None else [self.pid]

    @property
    def idle(self) -> bool:
        """Ready and without a job."""
        return self.ready and self.job is None

    def submit(self, job: Job) -> None:
        """Send a job; the time limit starts now."""
        if self._jobs is None or not self.idle:
            raise FailedPreconditionError("worker is not ready for a job")
        self.job = job
        self.job_started = time.monotonic()
        self._jobs.send(job)

    def receive(self) -> JobResult | None:
        """Read what the child sent; return the job's result if that was one.

        A closed pipe means the child died: its job (if any) becomes a failed
        result and a new child is started.
        """
        if self.results is None:  # pragma: no cover - always set after start()
            raise FailedPreconditionError("worker was not started")
        try:
            kind, payload = self.results.recv()
        except (EOFError, OSError):
            return self._died()
        if kind == "ready":
            self.ready = True
            self.startup_failures = 0
            return None
        if kind == "memory":
            job, self.job = self.job, None  # the child exits; EOF restarts it next
            # Not idle until its successor is ready: a job sent now would die with it.
            self.ready, self.exiting = False, True
            if job is None:
                return None
            return JobResult(
                job,
                RecordStatus.FAILED,
                peak_memory_mb=float(payload),
                error=f"out of memory: the evaluation grew past the limit of "
                f"{self.memory_limit_mb} MiB (resident memory +{float(payload):.0f} MiB)",
            )
        result: JobResult = payload
        self.job = None
        return result

    def _died(self) -> JobResult | None:
        code = self._reap()
        job = self.job
        if not self.ready and not self.exiting:
            self.startup_failures += 1
            if self.startup_failures >= 3:
                raise FailedPreconditionError(
                    f"worker processes fail to start (exit code {code}): {self._log_tail()}"
                )
        self.start()
        if job is None:
            return None
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        hint = " (likely out of memory)" if code == -signal.SIGKILL else ""
        return JobResult(
            job, RecordStatus.FAILED, error=f"worker process died ({how}){hint} during evaluation"
        )

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(size - 2000, 0))
        text: str = self._log.read().decode(errors="replace").strip()
        return text or "(no output)"

    def overdue(self, time_limit: float) -> bool:
        """Whether the running job has passed the time limit."""
        return self.job is not None and time.monotonic() - self.job_started > time_limit

    def stuck_starting(self) -> bool:
        """Whether the child has failed to become ready in reasonable time."""
        return not self.ready and time.monotonic() - self.started > _STARTUP_SECONDS

    def time_out(self, time_limit: float) -> JobResult:
        """Kill the child for its overdue job; return that job's timeout result."""
        job = self.job
        if job is None:  # pragma: no cover - only called when overdue
            raise FailedPreconditionError("no job is running")
        elapsed = time.monotonic() - self.job_started
        self.kill()
        self.start()
        return JobResult(
            job,
            RecordStatus.TIMEOUT,
            error=f"evaluation exceeded the time limit of {time_limit:g} s "
            f"(stopped after {elapsed:.1f} s)",
        )

    def wait_ready(self) -> None:
        """Block until the child has started (restarting one that hangs on start)."""
        deadline = time.monotonic() + _STARTUP_SECONDS
        while not self.ready:
            if self.results is not None and self.results.poll(1.0):
                self.receive()
            elif time.monotonic() > deadline:
                self.kill()
                self.start()
                deadline = time.monotonic() + _STARTUP_SECONDS

    def run(self, job: Job, time_limit: float) -> JobResult:
        """Evaluate one job and wait for it (how a Dask task uses a worker)."""
        self.wait_ready()
        self.submit(job)
        while True:
            remaining = time_limit - (time.monotonic() - self.job_started)
            if remaining <= 0:
                return self.time_out(time_limit)
            if self.results is not None and self.results.poll(min(remaining, 1.0)):
                result = self.receive()
                if result is not None:
                    return result
                if self.job is None:  # died and restarted without a job
                    raise FailedPreconditionError("worker lost its job")  # pragma: no cover

    def _reap(self) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def kill(self) -> None:
        """Stop the child at once and close its pipes."""
        for conn in (self._jobs, self.results):
            if conn is not None:
                conn.close()
        self._jobs = self.results = None
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        self._reap()
        self._process = None

    def close(self) -> None:
        """Let the child exit by closing its job pipe, killing it if it lingers."""
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None
        if self._process is not None:
            try:
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self.results is not None:
            self.results.close()
            self.results = None
        if self._log is not None:
            self._log.close()
            self._log = None


class LocalPool:
    """``workers`` child processes on this machine.

    Args:
        workers: How many evaluations run at once.
        time_limit: Wall seconds one evaluation may take.
        memory_limit_mb: Memory one evaluation may add (0: no limit).
    """

    def __init__(self, workers: int, time_limit: float, memory_limit_mb: int) -> None:
        self.workers = workers
        self.time_limit = time_limit
        self.memory_limit_mb = memory_limit_mb
        self._pool: list[WorkerProcess] = []

    def describe(self) -> str:
        """Short text for the run's header."""
        return f"{self.workers} local worker process(es)"

    def start(self) -> None:
        """Start the worker processes now and wait until they are ready.

        Optional: :meth:`run` starts them itself. Starting first keeps the
        one-time start-up (imports) out of a measurement or a progress ETA.
        """
        if not self._pool:
            self._pool = [WorkerProcess(self.memory_limit_mb) for _ in range(self.workers)]
        for worker in self._pool:
            worker.wait_ready()

    @property
    def pids(self) -> list[int]:
        """Process ids of the worker children."""
        return [pid for w in self._pool for pid in w.pids]

    def run(self, jobs: Iterable[Job]) -> Iterator[JobResult]:
        """Evaluate jobs, yielding results as they finish (not in job order)."""
        pending = iter(jobs)
        exhausted = False
        if not self._pool:
            self._pool = [WorkerProcess(self.memory_limit_mb) for _ in range(self.workers)]
        try:
            while True:
                for worker in self._pool:
                    if worker.idle and not exhausted:
                        job = next(pending, None)
                        if job is None:
                            exhausted = True
                        else:
                            worker.submit(job)
                busy = [w for w in self._pool if w.job is not None]
                if exhausted and not busy:
                    return
                connections: list[Any] = [w.results for w in self._pool if w.results is not None]
                for conn in wait(connections, timeout=0.5):
                    worker = next(w for w in self._pool if w.results is conn)
                    result = worker.receive()
                    if result is not None:
                        yield result
                for worker in self._pool:
                    if worker.overdue(self.time_limit):
                        yield worker.time_out(self.time_limit)
                    elif worker.stuck_starting():
                        worker.kill()
                        worker.start()
        finally:
            self.close()

    def close(self) -> None:
        """Stop every worker: idle ones exit, busy ones are killed."""
        for worker in self._pool:
            if worker.job is not None:
                worker.kill()
            else:
                worker.close()
        self._pool = []
