"""Running jobs on a Dask distributed cluster.

Each Dask worker thread keeps its own :class:`WorkerProcess`, so time and
memory limits, crash isolation and the per-process task cache work exactly as
on local workers, and the same plan stores the same record keys. Workers must
be able to import warmstart and read the suite's files (a shared filesystem or
the same path on every machine). ``local:N`` starts a local cluster of N
single-threaded worker processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from warmstart.benchmarks.runner._jobs import Job, JobResult
from warmstart.benchmarks.runner._workers import WorkerProcess
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError

__all__ = ["DaskExecutor", "run_on_dask_worker", "start_worker_processes"]

# Child processes of this Dask worker process that are free for a job.
_IDLE: list[WorkerProcess] = []
_LOCK = threading.Lock()


def _acquire(memory_limit_mb: int) -> WorkerProcess:
    with _LOCK:
        for worker in _IDLE:
            if worker.memory_limit_mb == memory_limit_mb:
                _IDLE.remove(worker)
                return worker
    return WorkerProcess(memory_limit_mb)


def _release(worker: WorkerProcess) -> None:
    with _LOCK:
        _IDLE.append(worker)


def run_on_dask_worker(job: Job, time_limit: float, memory_limit_mb: int) -> JobResult:
    """Evaluate a job in one of this Dask worker's child processes (one per thread)."""
    worker = _acquire(memory_limit_mb)
    try:
        return worker.run(job, time_limit)
    finally:
        _release(worker)


def start_worker_processes(memory_limit_mb: int, count: int) -> int:
    """Start ``count`` child processes on this Dask worker ahead of the jobs."""
    started = [_acquire(memory_limit_mb) for _ in range(count)]
    for worker in started:
        worker.wait_ready()
        _release(worker)
    return len(started)


class DaskExecutor:
    """Jobs on a Dask cluster, at most two per worker thread in flight.

    Args:
        address: A scheduler address (``tcp://host:8786``) or ``local:N``.
        time_limit: Wall seconds one evaluation may take.
        memory_limit_mb: Memory one evaluation may add (0: no limit).
    """

    def __init__(self, address: str, time_limit: float, memory_limit_mb: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - distributed is a dependency
            raise FailedPreconditionError(
                "Dask is not installed: pip install 'dask[distributed]'"
            ) from None
        self.address = address
        self.time_limit = time_limit
        self.memory_limit_mb = memory_limit_mb
        self._cluster: Any = None
        if address.startswith("local:"):
            try:
                n = int(address.removeprefix("local:"))
            except ValueError:
                n = 0
            if n < 1:
                raise InvalidRequestError(
                    f"--dask local:N needs a worker count N >= 1, got {address!r}"
                )
            self._cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit=0,
            )
            self._client: Any = Client(self._cluster)
        else:
            try:
                self._client = Client(address, timeout="15s")
            except (OSError, TimeoutError) as exc:
                raise FailedPreconditionError(
                    f"cannot reach the Dask scheduler at {address!r}: {exc}"
                ) from None

    def describe(self) -> str:
        """Short text for the run's header."""
        threads = sum(self._client.nthreads().values())
        return f"Dask cluster {self.address} ({threads} worker thread(s))"

    def start(self) -> None:
        """Start every Dask worker's child processes now (one per worker thread)."""
        nthreads = self._client.nthreads()
        for address, threads in nthreads.items():
            self._client.run(
                start_worker_processes, self.memory_limit_mb, threads, workers=[address]
            )

    def run(self, jobs: Iterable[Job]) -> Iterator[JobResult]:
        """Evaluate jobs on the cluster, yielding results as they finish."""
        from distributed import as_completed

        pending = iter(jobs)
        in_flight = max(2 * sum(self._client.nthreads().values()), 1)

        def submit(job: Job) -> Any:
            return self._client.submit(
                run_on_dask_worker, job, self.time_limit, self.memory_limit_mb, pure=False
            )

        futures = [submit(job) for job in _take(pending, in_flight)]
        if not futures:
            return
        completed = as_completed(futures)
        try:
            for future in completed:
                yield future.result()
                following = next(pending, None)
                if following is not None:
                    future = submit(following)
                    futures.append(future)
                    completed.add(future)
        finally:
            for left in futures:
                if not left.done():
                    left.cancel()

    def close(self) -> None:
        """Disconnect, and stop the cluster if we started it."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _take(items: Iterator[Job], n: int) -> list[Job]:
    out: list[Job] = []
    for item in items:
        out.append(item)
        if len(out) >= n:
            break
    return out
