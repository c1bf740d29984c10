"""Does the recommender use what it observed? An ask/tell loop over measured pools.

Leave-family-out, as the pool evaluation: each fold's bundle is trained on the
other folds' records, and each held-out task's evaluated configs form its pool,
with their measured scores. Orders of the pool are compared by normalised regret
of the best config so far against trials:

- ``loop``: the ask/tell loop, one config a trial, every earlier trial's measured
  score passed back as an observation;
- ``zero_shot``: the recommender's zero-shot order of the pool (no observations);
- ``greedy_portfolio``: the training folds' greedy portfolio, then random;
- ``random``: random orders (mean of five).

With ``--inner-folds N`` the observation settings (sharpness, worlds kept, when
the task's own model joins, from how many observations they weigh the worlds, how
the next configs are picked) are
chosen per outer fold on N inner family folds of its training tasks, from
``--grid``, by mean regret over the trials; the outer fold's tasks choose nothing.
``--out`` holds the choices as ``settings_by_fold``, which ``warmstart evaluate
--mode sequential --recommender-settings FILE`` reads.

    python -m warmstart.benchmarks.studies.observed_loop --db sqlite:///kb.db --space lightgbm
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from warmstart.benchmarks.sequential import (
    changed_settings,
    check_fold_split,
    fold_digests,
    load_fold_split,
    load_recommender_by_fold,
)
from warmstart.metamodel.bundle import ModelBundle, TrainSettings, load_bundle
from warmstart.metamodel.evaluation import (
    EvaluationData,
    load_evaluation_data,
    regret_curve,
    spread_over_families,
)
from warmstart.metamodel.evaluation._tasks import family_folds
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.portfolio import greedy_portfolio, primary_records, score_matrix
from warmstart.metamodel.recommend import Recommender, RecommenderSettings
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, Observation, RecordStatus

ORDERS = ("loop", "zero_shot", "greedy_portfolio", "random")


def _scores(records: Sequence[EvaluationRecord]) -> dict[str, float]:
    """Mean measured score per config on the task's primary fidelity (NaN: only failures)."""
    found: dict[str, list[float]] = defaultdict(list)
    for r in primary_records(records):
        ok = r.status is RecordStatus.OK and r.score is not None
        found[r.config_hash].append(float(r.score) if ok and r.score is not None else math.nan)
    return {h: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for h, v in found.items()}


def loop_order(
    recommender: Recommender,
    features: dict[str, float],
    configs: dict[str, dict[str, ConfigValue]],
    scores: dict[str, float],
    trials: int,
) -> list[str]:
    """The ask/tell loop over a pool: each trial picks one config given every earlier one.

    A config whose evaluations all failed is observed at the pool's worst score.
    """
    worst = min(s for s in scores.values() if math.isfinite(s))
    remaining = sorted(configs)
    order: list[str] = []
    seen: list[Observation] = []
    for _ in range(min(trials, len(remaining))):
        pick = recommender.choose(features, [configs[h] for h in remaining], 1, observations=seen)[
            0
        ]
        digest = remaining.pop(pick)
        order.append(digest)
        score = scores[digest]
        seen.append(Observation(configs[digest], score if math.isfinite(score) else worst))
    return order


def _curves(
    data: EvaluationData,
    recommender: Recommender,
    train_ids: set[str],
    test_ids: Sequence[str],
    trials: int,
    seed: int,
) -> dict[str, list[dict[int, float]]]:
    """Regret against trials 1..``trials`` of each order, per test task."""
    ks = list(range(1, trials + 1))
    matrix = score_matrix(r for t in train_ids for r in data.usable[t])
    portfolio = [matrix.config_hashes[i] for i in greedy_portfolio(matrix, trials)]
    out: dict[str, list[dict[int, float]]] = defaultdict(list)
    for n, task_id in enumerate(test_ids):
        scores = _scores(data.usable[task_id])
        configs = {r.config_hash: dict(r.config) for r in data.usable[task_id]}
        configs = {h: c for h, c in configs.items() if h in scores}
        pool = sorted(configs)
        features = data.features[task_id].as_dict()
        rng = np.random.default_rng([seed, n])
        zero = recommender.choose(features, [configs[h] for h in pool], trials)
        kept = [h for h in portfolio if h in configs]
        rest = [h for h in pool if h not in kept]
        rng.shuffle(rest)
        out["loop"].append(
            regret_curve(scores, loop_order(recommender, features, configs, scores, trials), ks)
        )
        out["zero_shot"].append(regret_curve(scores, [pool[i] for i in zero], ks))
        out["greedy_portfolio"].append(regret_curve(scores, kept + rest, ks))
        randoms = [regret_curve(scores, list(rng.permutation(pool)), ks) for _ in range(5)]
        out["random"].append({k: float(np.mean([r[k] for r in randoms])) for k in ks})
    return out


def cached_bundle(
    data: EvaluationData,
    train_ids: set[str],
    cache: Path,
    train: TrainSettings,
    feature_version: str = FEATURE_VERSION,
) -> ModelBundle:
    """The bundle trained on ``train_ids``' records, cached by file name."""
    if cache.is_file():
        return load_bundle(cache)
    bundle = data.train(
        [r for t in sorted(train_ids) for r in data.usable[t]], feature_version, train
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    bundle.save(cache)
    return bundle


def inner_splits(
    data: EvaluationData, train_ids: set[str], n_folds: int, n_tasks: int | None, seed: int
) -> Iterator[tuple[int, set[str], list[str]]]:
    """Inner family folds of an outer fold's training tasks: for each, its number, the tasks
    trained on and at most ``n_tasks`` held-out tasks, spread over families."""
    families = {t: data.families[t] for t in train_ids}
    inner = family_folds(families, n_folds, seed)
    for fold in range(n_folds):
        held = [t for t, f in inner.items() if f == fold]
        yield (
            fold,
            {t for t, f in inner.items() if f != fold},
            spread_over_families(held, families, n_tasks, seed),
        )


def _choose_settings(
    data: EvaluationData,
    train_ids: set[str],
    grid: list[RecommenderSettings],
    inner_folds: int,
    trials: int,
    cache: Path,
    seed: int,
    inner_tasks: int | None,
) -> tuple[RecommenderSettings, dict[str, float]]:
    """The grid setting with the least mean loop regret on inner family folds (on at most
    ``inner_tasks`` held-out tasks per inner fold, spread over families)."""
    totals: dict[int, list[float]] = defaultdict(list)
    for fold, inner_train, inner_test in inner_splits(
        data, train_ids, inner_folds, inner_tasks, seed
    ):
        bundle = cached_bundle(data, inner_train, cache / f"inner{fold}.wsb", TrainSettings())
        for i, settings in enumerate(grid):
            curves = _curves(
                data, bundle.recommender(settings), inner_train, inner_test, trials, seed
            )
            totals[i].extend(float(np.mean(list(c.values()))) for c in curves["loop"])
    means = {i: float(np.mean(v)) for i, v in totals.items()}
    best = min(means, key=lambda i: (means[i], i))
    return grid[best], {_label(grid[i]): m for i, m in means.items()}


def _label(settings: RecommenderSettings) -> str:
    return (
        f"sharpness={settings.observed_sharpness:g},worlds={settings.observed_worlds},"
        f"own_from={settings.observed_own_from},from={settings.observed_from},"
        f"choice={settings.observed_choice}"
    )


def parse_grid(text: str) -> list[RecommenderSettings]:
    """Settings from ``SHARPNESS:WORLDS:OWN_FROM[:FROM[:CHOICE]]`` items, comma-separated
    (FROM and CHOICE default to :class:`RecommenderSettings`' own)."""
    grid = []
    defaults = RecommenderSettings()
    for item in text.split(","):
        parts = item.split(":")
        if not 3 <= len(parts) <= 5:
            raise SystemExit(
                f"--grid item {item!r}: want SHARPNESS:WORLDS:OWN_FROM[:FROM[:CHOICE]]"
            )
        grid.append(
            replace(
                defaults,
                observed_sharpness=float(parts[0]),
                observed_worlds=int(parts[1]),
                observed_own_from=int(parts[2]),
                observed_from=int(parts[3]) if len(parts) > 3 else defaults.observed_from,
                observed_choice=parts[4] if len(parts) > 4 else defaults.observed_choice,
            )
        )
    return grid


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="Records database URL.")
    parser.add_argument("--space", default="lightgbm")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inner-folds", type=int, default=0, help="0: the default settings.")
    parser.add_argument(
        "--inner-tasks", type=int, default=15, help="Held-out tasks per inner fold (at most)."
    )
    parser.add_argument(
        "--grid",
        default="2:16:0,2:16:8,1:16:8,4:16:8,2:4:8",
        help="SHARPNESS:WORLDS:OWN_FROM[:FROM[:CHOICE]] settings the inner folds choose from "
        "(FROM: observations before they weigh the worlds; CHOICE: mean or improvement).",
    )
    parser.add_argument(
        "--only-folds",
        help="Comma-separated outer folds to run (default: all); to split a run over processes.",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        help="Per-fold settings to use instead of choosing them (a file as --out writes, or "
        "as evaluate --recommender-settings reads); with --inner-folds 0 only.",
    )
    parser.add_argument("--cache", type=Path, default=Path("observed-loop-bundles"))
    parser.add_argument("--out", type=Path, help="Write the curves as JSON here.")
    args = parser.parse_args(argv)
    grid = parse_grid(args.grid)
    given = {} if args.settings is None else load_recommender_by_fold(args.settings)
    if given and args.inner_folds:
        raise SystemExit("--settings and --inner-folds: give one or the other")
    with RecordStore.open(args.db, create=False) as store:
        data = load_evaluation_data(store, args.space, FEATURE_VERSION, args.folds, args.seed)
    if args.settings is not None:
        check_fold_split(load_fold_split(args.settings), given, data.fold_of)
    curves: dict[str, list[dict[int, float]]] = defaultdict(list)
    chosen: dict[int, object] = {}
    by_fold: dict[str, dict[str, object]] = {}
    folds = list(range(args.folds))
    if args.only_folds:
        folds = sorted({int(f) for f in args.only_folds.split(",")})
    for fold in folds:
        train_ids = {t for t, f in data.fold_of.items() if f != fold}
        test_ids = sorted(t for t, f in data.fold_of.items() if f == fold)
        cache = args.cache / args.space / f"fold{fold}"
        bundle = cached_bundle(data, train_ids, cache / "outer.wsb", TrainSettings())
        settings = given.get(fold, RecommenderSettings())
        if args.inner_folds:
            settings, inner = _choose_settings(
                data, train_ids, grid, args.inner_folds, args.trials, cache, args.seed,
                args.inner_tasks,
            )  # fmt: skip
            chosen[fold] = {"chosen": _label(settings), "inner_mean_regret": inner}
            by_fold[str(fold)] = changed_settings(settings)
            print(f"fold {fold}: chose {_label(settings)} from {inner}", flush=True)
        found = _curves(
            data, bundle.recommender(settings), train_ids, test_ids, args.trials, args.seed
        )
        for name, rows in found.items():
            curves[name].extend(rows)
        print(f"fold {fold}: {len(test_ids)} tasks", flush=True)
    shown = [t for t in (1, 3, 5, 10, 20, 30, 50) if t <= args.trials]
    print(f"{len(curves['loop'])} tasks; mean normalised regret (standard error) at trial")
    print(f"{'order':<18}" + "".join(f"{t:>16}" for t in shown))
    summary: dict[str, dict[str, dict[int, float]]] = {}
    for name in ORDERS:
        rows = curves[name]
        means = [float(np.mean([r[t] for r in rows])) for t in shown]
        errors = [float(np.std([r[t] for r in rows]) / math.sqrt(len(rows))) for t in shown]
        summary[name] = {
            "mean": dict(zip(shown, means, strict=True)),
            "se": dict(zip(shown, errors, strict=True)),
        }
        print(
            f"{name:<18}"
            + "".join(f"{m:>9.4f} ({e:.3f})" for m, e in zip(means, errors, strict=True))
        )
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "summary": summary,
                    "chosen": chosen,
                    "settings_by_fold": by_fold,
                    "split": fold_digests(data.fold_of),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
