"""CPU time of one suggestion in process, by batch size: the recommender alone, no gRPC.

Usage:
    python -m warmstart.benchmarks.perf.suggest_cost [--model kb/models/lightgbm.wsb]
        [--features kb/pmlb_features.parquet] [--tasks 64] [--k 10] [--batches 1,3,8,16]
        [--repeats 15]

The requests are the meta-features of the first ``--tasks`` tasks of the features
file (the shipped knowledge base's by default), each asking for ``k`` configs. At
each batch size they are answered in passes of that many
(``Recommender.suggest_many``, as the server's batcher hands them over), and the
figure is this thread's CPU time per request, the best of ``--repeats`` rounds over
all the tasks: the least the host's noise lets through. The first round also
compiles the kernels where numba has no cache yet (not counted: each round is timed
alone, and the best is kept).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.recommend import Recommender, SuggestQuery
from warmstart.metamodel.store import read_task_features

_ROOT = Path(__file__).resolve().parents[2]


def queries(features: Path, n_tasks: int, k: int) -> list[SuggestQuery]:
    """One request per task of the features file (its first ``n_tasks``)."""
    try:
        rows, _ = read_task_features(features)
    except InvalidRequestError as exc:
        raise SystemExit(str(exc)) from exc
    found = [r.features for r in rows if r.features.version == FEATURE_VERSION][:n_tasks]
    if not found:
        raise SystemExit(f"{features} holds no valid {FEATURE_VERSION} meta-features")
    return [SuggestQuery(dict(zip(f.names, f.values, strict=True)), k) for f in found]


def cost_per_request(
    recommender: Recommender, requests: Sequence[SuggestQuery], batch: int, repeats: int
) -> float:
    """Best round's thread CPU seconds per request, answered ``batch`` at a time."""
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        for first in range(0, len(requests), batch):
            recommender.suggest_many(requests[first : first + batch])
        best = min(best, (time.thread_time() - start) / len(requests))
    return best


def main() -> None:
    """Load the bundle, time each batch size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=_ROOT / "kb" / "models" / "lightgbm.wsb")
    parser.add_argument("--features", type=Path, default=_ROOT / "kb" / "pmlb_features.parquet")
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batches", default="1,3,8,16")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    if not batches or min(batches) < 1 or args.repeats < 1 or args.tasks < 1:
        parser.error("--batches, --repeats and --tasks take positive integers")
    bundle = load_bundle(args.model, feature_version=FEATURE_VERSION)
    recommender = bundle.recommender()
    requests = queries(args.features, args.tasks, args.k)
    print(f"model: {bundle.version} ({bundle.space.name}), {len(requests)} tasks, k={args.k}")
    print(f"{'batch':>5} {'CPU ms/request':>15}")
    for batch in batches:
        ms = 1000 * cost_per_request(recommender, requests, batch, args.repeats)
        print(f"{batch:>5} {ms:>15.3f}")


if __name__ == "__main__":
    main()
