"""Throughput of the runner on a local Dask cluster with 1 and with 2 workers.

Usage: python -m warmstart.benchmarks.perf.dask_scaling [--evaluations 16]

Each cluster is started and its worker processes warmed up before timing, so
the figure is steady-state evaluations per second. Target: 2 workers at least
1.7x the throughput of 1 (on a machine with at least 2 free cores).
"""

from __future__ import annotations

import argparse
import time

from warmstart.benchmarks.perf._common import jobs
from warmstart.benchmarks.runner import DaskExecutor


def throughput(workers: int, n: int) -> float:
    """Evaluations per second on a warm local cluster of ``workers`` workers."""
    _, todo = jobs(n)
    executor = DaskExecutor(f"local:{workers}", time_limit=600, memory_limit_mb=4096)
    try:
        executor.start()
        # One job per worker first: each child loads the task before timing starts.
        list(executor.run(jobs(workers)[1]))
        start = time.perf_counter()
        results = list(executor.run(todo))
        elapsed = time.perf_counter() - start
    finally:
        executor.close()
    if len(results) != n or any(r.status.value != "ok" for r in results):
        raise RuntimeError("not every evaluation succeeded")
    return n / elapsed


def main() -> None:
    """Measure 1 then 2 workers and print the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=16)
    args = parser.parse_args()
    one = throughput(1, args.evaluations)
    two = throughput(2, args.evaluations)
    print(f"{args.evaluations} random-forest evaluations (~1 s each), Dask LocalCluster")
    print(f"1 worker   {one:.3f} evaluations/s")
    print(f"2 workers  {two:.3f} evaluations/s")
    print(f"speed-up   {two / one:.2f}x  (target >= 1.7x)")


if __name__ == "__main__":
    main()
