"""CPU time to make a bundle servable: read it, compile its surrogate, build the recommender.

Usage:
    python -m warmstart.benchmarks.perf.model_load [--models kb/models] [--repeats 5]

For each bundle of ``--models`` (the shipped ones by default), this thread's CPU
seconds, the best of ``--repeats`` rounds: reading the file (``load_bundle``),
compiling the surrogate's trees into leaf masks (``Surrogate.compile``), and building
the whole recommender (``ModelBundle.recommender``: the compile, the candidates' and
training tasks' masks, the world table). Beside them, what LightGBM's own
``Booster.dump_model`` of the same boosters costs, JSON decoding included: the
structure a compiler reading the JSON dump has to start from. A server pays the
recommender's build once per bundle at start; an evaluation pays it for every outer
and inner bundle it trains. The first round also compiles the numba kernels where
they have no cache (not counted: the best round is kept).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from warmstart.metamodel.bundle import load_bundle

_ROOT = Path(__file__).resolve().parents[2]


def best_seconds(work: Callable[[], object], repeats: int) -> float:
    """The least thread CPU seconds of ``repeats`` runs of ``work``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        work()
        best = min(best, time.thread_time() - start)
    return best


def bundle_seconds(path: Path, repeats: int) -> tuple[int, tuple[float, float, float, float]]:
    """The bundle's trees, and the seconds to read it, compile its surrogate, build its
    recommender, and dump its boosters as JSON (``Booster.dump_model``)."""
    bundle = load_bundle(path)
    surrogate = bundle.surrogate
    boosters = [*surrogate.members, *([surrogate.fit_time] if surrogate.fit_time else [])]
    # Split the inputs where the recommender does (meta-features, then the size if read).
    n_task = bundle.recommender().compiled.trees.n_task_features
    trees = sum(b.num_trees() for b in boosters)
    return trees, (
        best_seconds(lambda: load_bundle(path), repeats),
        best_seconds(lambda: surrogate.compile(n_task), repeats),
        best_seconds(bundle.recommender, repeats),
        best_seconds(lambda: [b.dump_model() for b in boosters], repeats),
    )


def main() -> None:
    """Time each bundle's steps and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=_ROOT / "kb" / "models")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats takes a positive integer")
    paths = sorted(args.models.glob("*.wsb"))
    if not paths:
        parser.error(f"{args.models} holds no .wsb bundles")
    print(
        f"{'bundle':<24} {'trees':>6} {'load s':>7} {'compile s':>10} "
        f"{'recommender s':>14} {'dump_model s':>13}"
    )
    for path in paths:
        trees, seconds = bundle_seconds(path, args.repeats)
        load, compile_, build, dump = seconds
        print(
            f"{path.stem:<24} {trees:>6} {load:>7.3f} {compile_:>10.3f} "
            f"{build:>14.3f} {dump:>13.3f}"
        )


if __name__ == "__main__":
    main()
