"""Runner time per evaluation over a bare fit of the same model on the same data.

Usage: python -m warmstart.benchmarks.perf.runner_overhead [--evaluations 10] [--repeats 5]

"Bare" is the work every evaluation must do, in this process: for each of the
3 CV folds, build the pipeline, fit it, predict probabilities. "Runner" is the
same jobs through the runner: a worker process (started beforehand), its
memory watch, metrics, batched writes into a SQLite store. The two alternate
`--repeats` times. Wall time on a shared machine swings by tens of percent
from run to run, so CPU time (this process plus the worker child) is reported
too: it is what the runner adds, whatever else the machine is doing.
Target: < 10% on evaluations of about 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.perf._common import LEARNER, jobs
from warmstart.benchmarks.runner import JobResult, LocalPool, Plan, PlanSpec, run_plan
from warmstart.benchmarks.runner._protocol import splits
from warmstart.metamodel.spaces import make_search_space
from warmstart.metamodel.store import RecordStore


def _cpu(pids: list[int]) -> float:
    total = time.process_time()
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def bare(n: int) -> tuple[float, float]:
    """Wall and CPU seconds per evaluation when fitting the models directly."""
    data, todo = jobs(n)
    learner = get_learner(LEARNER)
    _, y = np.unique(data.y.astype(str).to_numpy(), return_inverse=True)
    wall, cpu = time.perf_counter(), time.process_time()
    for job in todo:
        for train, test in splits(data.y, data.task.task_type, job.protocol, job.seed):
            model = learner.make_estimator(job.config, data.task.task_type, seed=job.seed)
            model.fit(data.X.iloc[train], y[train])
            model.predict_proba(data.X.iloc[test])
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def runner(n: int, tmp: Path) -> tuple[float, float]:
    """Wall and CPU seconds per evaluation through the runner, worker already started."""
    data, todo = jobs(n)
    learner = get_learner(LEARNER)
    space = make_search_space(LEARNER, learner.search_space())
    with RecordStore.open(f"sqlite:///{tmp / f'overhead-{time.time_ns()}.db'}") as store:
        store.add_all(tasks=[data.task], spaces=[space])
        plan = Plan(
            spec=PlanSpec(suite=todo[0].suite, learners=[LEARNER]),
            tasks=[data.task],
            spaces={LEARNER: space},
            configs={LEARNER: [todo[0].config]},
            jobs=todo,
            total=n,
            already_stored=0,
        )
        pool = LocalPool(1, time_limit=600, memory_limit_mb=4096)
        pool.start()
        pids = pool.pids
        done: list[JobResult] = []
        end: list[float] = []
        wall, cpu = time.perf_counter(), _cpu(pids)

        def on_result(result: JobResult) -> None:
            done.append(result)
            if len(done) == n:  # read the worker's CPU before the pool stops it
                end.extend([time.perf_counter() - wall, _cpu(pids) - cpu])

        summary = run_plan(store, plan, pool, batch_size=50, on_result=on_result)
        elapsed, spent = end
    if summary.stored != n:
        raise RuntimeError(f"the runner stored {summary.stored} of {n} records")
    return elapsed / n, spent / n


def main() -> None:
    """Alternate bare and runner measurements; report the medians and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bares: list[tuple[float, float]] = []
    runs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            bares.append(bare(args.evaluations))
            runs.append(runner(args.evaluations, Path(tmp)))
    n, r = args.evaluations, args.repeats
    print(f"{n} evaluations x {r} repeats, random forest on mfeat_fourier, 1 worker, 3-fold CV")
    for label, index in (("wall", 0), ("cpu", 1)):
        b = statistics.median(x[index] for x in bares)
        g = statistics.median(x[index] for x in runs)
        print(
            f"{label:<5} bare {b:.3f} s/eval   runner {g:.3f} s/eval   "
            f"overhead {100 * (g / b - 1):+.1f}%   "
            f"(bare runs {', '.join(f'{x[index]:.2f}' for x in bares)}; "
            f"runner runs {', '.join(f'{x[index]:.2f}' for x in runs)})"
        )
    print("target: overhead < 10%")


if __name__ == "__main__":
    main()
