"""Runner time per evaluation over a bare fit of the same model on the same data.

Usage: python -m benchmarks.perf.runner_overhead [--evaluations 12]

"Bare" is the work every evaluation must do, in this process: for each of the
3 CV folds, build the pipeline, fit it, predict probabilities. "Runner" is the
same jobs through the runner: a worker process (started beforehand), time and
memory watch, metrics, batched writes into a SQLite store. Target: < 10%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.learners import get_learner
from benchmarks.perf._common import LEARNER, jobs
from benchmarks.runner import LocalPool, Plan, PlanSpec, run_plan
from benchmarks.runner._protocol import splits
from metamodel.spaces import make_search_space
from metamodel.store import RecordStore


def bare(n: int) -> float:
    """Seconds per evaluation when fitting the models directly."""
    data, todo = jobs(n)
    learner = get_learner(LEARNER)
    _, y = np.unique(data.y.astype(str).to_numpy(), return_inverse=True)
    start = time.perf_counter()
    for job in todo:
        for train, test in splits(data.y, data.task.task_type, job.protocol, job.seed):
            model = learner.make_estimator(job.config, data.task.task_type, seed=job.seed)
            model.fit(data.X.iloc[train], y[train])
            model.predict_proba(data.X.iloc[test])
    return (time.perf_counter() - start) / n


def runner(n: int, tmp: Path) -> float:
    """Seconds per evaluation through the runner, worker already started."""
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
        start = time.perf_counter()
        summary = run_plan(store, plan, pool, batch_size=50)
        elapsed = time.perf_counter() - start
    if summary.stored != n:
        raise RuntimeError(f"the runner stored {summary.stored} of {n} records")
    return elapsed / n


def main() -> None:
    """Alternate bare and runner measurements; report the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bares, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            bares.append(bare(args.evaluations))
            runs.append(runner(args.evaluations, Path(tmp)))
    b, r = statistics.median(bares), statistics.median(runs)
    print(f"{args.evaluations} evaluations x {args.repeats} repeats, 1 worker, 3-fold CV")
    print(
        f"bare fit+predict     {b:.3f} s/evaluation (runs: {', '.join(f'{x:.3f}' for x in bares)})"
    )
    print(
        f"through the runner   {r:.3f} s/evaluation (runs: {', '.join(f'{x:.3f}' for x in runs)})"
    )
    print(f"overhead             {100 * (r / b - 1):+.1f}%  (target < 10%)")


if __name__ == "__main__":
    main()
