"""Seconds to compute a task's meta-features, by data size, on one thread.

Usage:
    python -m warmstart.benchmarks.perf.features_cost [--sizes 1000x20,10000x50,50000x100]
        [--repeats 3] [--task-type binary]

Data come from scikit-learn's ``make_classification`` (``make_regression`` for
``--task-type regression``). Each size is timed ``--repeats`` times after one
warm-up call; the median is reported with the fastest and slowest run, and how
many features came out NaN (a landmarker cut off by its time box shows here).
``compute_meta_features`` limits BLAS and OpenMP to one thread itself.
Target: about 1 s for 50,000 x 100.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

from sklearn.datasets import make_classification, make_regression

from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION, compute_meta_features

DEFAULT_SIZES = "1000x20,10000x50,50000x100"


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"1000x20,5000x50"`` → ``[(1000, 20), (5000, 50)]``."""
    out = []
    for part in text.split(","):
        rows, sep, columns = part.strip().lower().partition("x")
        if not sep or not rows.isdigit() or not columns.isdigit():
            raise argparse.ArgumentTypeError(
                f"sizes are ROWSxCOLUMNS, comma-separated; got {part!r}"
            )
        out.append((int(rows), int(columns)))
    return out


def make_data(rows: int, columns: int, task_type: str, seed: int) -> tuple[Any, Any]:
    """A synthetic task of the given size."""
    if task_type == "regression":
        X, y = make_regression(rows, columns, n_informative=min(columns, 10), random_state=seed)
        return X, y
    informative = min(columns, max(2, columns // 2), 10)
    X, y = make_classification(
        rows,
        columns,
        n_informative=informative,
        n_redundant=min(columns - informative, 5),
        n_classes=3 if task_type == "multiclass" else 2,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return X, y


def time_size(rows: int, columns: int, task_type: str, repeats: int) -> tuple[list[float], int]:
    """Seconds per run, and how many features were NaN in the last run."""
    X, y = make_data(rows, columns, task_type, seed=0)
    seconds = []
    features: dict[str, float] = {}
    for _ in range(repeats):
        start = time.perf_counter()
        features = compute_meta_features(X, y, task_type)
        seconds.append(time.perf_counter() - start)
    return seconds, sum(math.isnan(v) for v in features.values())


def main(argv: list[str] | None = None) -> None:
    """Print a table of seconds per data size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--task-type", choices=["binary", "multiclass", "regression"], default="binary"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    warm_X, warm_y = make_data(200, 5, args.task_type, seed=1)
    compute_meta_features(warm_X, warm_y, args.task_type)  # imports and first-call set-up

    print(
        f"meta-features {FEATURE_VERSION}: {len(FEATURE_NAMES)} features, "
        f"{args.task_type}, one thread, median of {args.repeats}"
    )
    print(f"{'rows x columns':>16} {'median s':>9} {'min s':>7} {'max s':>7} {'NaN':>4}")
    for rows, columns in args.sizes:
        seconds, n_nan = time_size(rows, columns, args.task_type, args.repeats)
        print(
            f"{f'{rows:,} x {columns:,}':>16} {statistics.median(seconds):9.3f} "
            f"{min(seconds):7.3f} {max(seconds):7.3f} {n_nan:4d}"
        )


if __name__ == "__main__":
    main()
