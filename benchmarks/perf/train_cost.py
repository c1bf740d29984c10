"""Surrogate training time as the records grow (synthetic rows).

Usage: python -m warmstart.benchmarks.perf.train_cost [--rows 10000,100000,1000000] [--threads 1]

Rows have the shape of the real table: 42 meta-features (mf-1) and a
LightGBM-like encoded config (15 columns, 3 categorical), grouped into tasks
of 100 records. The default settings (``SurrogateParams()``: 5 ensemble members
of 100 rounds of 15-leaf trees, plus the fit-time model) are what `warmstart train`
uses.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from warmstart.metamodel.surrogate import Surrogate, SurrogateParams, TrainingTable


def synthetic_table(rows: int, seed: int = 0) -> TrainingTable:
    """A training table of ``rows`` rows, 100 per task."""
    rng = np.random.default_rng(seed)
    n_tasks = max(rows // 100, 2)
    meta = rng.normal(size=(n_tasks, 42))
    task = np.repeat(np.arange(n_tasks), rows // n_tasks + 1)[:rows]
    config = rng.random((rows, 15))
    config[:, :3] = rng.integers(0, 4, (rows, 3))
    X = np.hstack([meta[task], config])
    y = np.clip(
        0.5 + 0.3 * np.sin(3 * config[:, 3] + meta[task, 0]) + rng.normal(0, 0.1, rows), 0, 1
    )
    return TrainingTable(
        X=X,
        y=y,
        log_fit_seconds=np.log1p(np.abs(rng.normal(1.0, 0.5, rows))),
        groups=task.astype(str),
        feature_names=tuple(f"m{i}" for i in range(42)) + tuple(f"cfg:c{i}" for i in range(15)),
        categorical=(42, 43, 44),
        n_meta=42,
        data_hash="synthetic",
    )


def main() -> None:
    """Train on each size and print seconds and rows per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    # 1, as `warmstart train` uses: on a busy machine, LightGBM's OpenMP threads spin-wait
    # for each other and 2 threads took 85 s at 10k rows where 1 took 6.5 s.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", type=int, default=5)
    args = parser.parse_args()
    params = SurrogateParams(n_models=args.models, n_threads=args.threads)
    print(
        f"surrogate: {args.models} members x {params.n_estimators} rounds of "
        f"{params.num_leaves}-leaf trees + fit-time model, {args.threads} threads"
    )
    print(f"{'rows':>10} {'seconds':>9} {'rows/s':>10}")
    for rows in (int(r) for r in args.rows.split(",")):
        table = synthetic_table(rows)
        start = time.perf_counter()
        Surrogate.fit(table, params)
        seconds = time.perf_counter() - start
        print(f"{rows:>10,} {seconds:>9.1f} {rows / seconds:>10,.0f}")


if __name__ == "__main__":
    main()
