"""How should the ask/tell loop search once observations weigh the worlds? Chosen on inner folds.

The ask/tell loop on surrogate benchmarks, as ``warmstart evaluate --mode
sequential`` runs it, but on *inner* family folds of each outer fold's training
tasks: for each outer fold, its training tasks are split into ``--inner-folds``
family folds; a bundle is trained on all but one, and the loop runs on at most
``--inner-tasks`` tasks of the one left out. Every variant of ``--variant`` (the
recommender settings that shape the candidates a request with observations
considers) runs the loop; the variant with the least mean regret over trials
1..``--trials`` is chosen for the outer fold, unless its gain over the first variant
is below ``--margin`` standard errors of the paired per-task differences (then the
first variant, the reference, is kept: 15 inner tasks a fold are few, and a choice
that follows their noise gains nothing on the outer folds). The outer fold's own
tasks choose nothing; ``--out`` writes the choices as ``settings_by_fold``, which
``warmstart evaluate --mode sequential --recommender-settings FILE`` reads, each
variant's paired difference from the first with its standard error, and every inner
task's curves.

Each variant is applied on top of the fold's settings in ``--base`` (for example
the observed-loop study's choices), so the two studies compose. With ``--tpe``,
Optuna's TPE seeded with the zero-shot top 10 runs once per task as a reference.

    python -m warmstart.benchmarks.studies.loop_search --db sqlite:///kb.db \\
        --variant wide:observed_refine_each=32,observed_samples=256 --out choice.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace

from warmstart.benchmarks.sequential import (
    changed_settings,
    check_fold_split,
    fold_digests,
    load_fold_split,
    load_recommender_by_fold,
)
from warmstart.benchmarks.sequential._arms import tpe_search, warmstart_loop
from warmstart.benchmarks.sequential._surrogate import SurrogateLoss, best_so_far
from warmstart.benchmarks.studies.observed_loop import cached_bundle, inner_splits
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import EvaluationData, TaskObjective, load_evaluation_data
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.recommend import Recommender, RecommenderSettings
from warmstart.metamodel.spaces import load_configspace, sample_configs
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue

SHOWN = (10, 20, 30, 50)


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME[:FIELD=VALUE,...]`` as a name and the fields it sets (values as JSON, else text).

    Raises:
        SystemExit: A field that :class:`RecommenderSettings` does not have, or a value
            it refuses.
    """
    name, _, rest = text.partition(":")
    allowed = {f.name for f in fields(RecommenderSettings)}
    values: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, raw = item.partition("=")
        if key not in allowed:
            raise SystemExit(f"--variant {name}: unknown setting {key!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    try:  # checked now, not after the first bundle is trained
        replace(RecommenderSettings(), **values)
    except InvalidRequestError as exc:
        raise SystemExit(f"--variant {name}: {exc}") from None
    return name, values


def _task_curves(
    data: EvaluationData,
    cs: ConfigurationSpace,
    recommenders: Mapping[str, Recommender],
    task_id: str,
    trials: int,
    seed: int,
    tpe: bool,
) -> dict[str, np.ndarray]:
    """Best-so-far regret of each variant's loop (and seeded TPE) on one task."""
    loss = SurrogateLoss(TaskObjective(cs, data.usable[task_id], seed=seed))
    features = data.features[task_id].as_dict()

    def fallback(trial: int) -> dict[str, ConfigValue]:
        return sample_configs(cs, 1, method="random", seed=seed * 7919 + trial)[0]

    out = {}
    for name, recommender in recommenders.items():
        _, losses = warmstart_loop(recommender, features, loss, trials, fallback=fallback)
        out[name] = best_so_far(losses)
    if tpe:
        first = next(iter(recommenders.values()))
        advice = first.suggest(features, 10)
        seeds = [dict(s.config) for s in advice.suggestions]
        out["tpe_seeded"] = best_so_far(tpe_search(cs, loss, trials, seed, enqueue=seeds)[1])
    return out


def _choose(
    data: EvaluationData,
    train_ids: set[str],
    base: RecommenderSettings,
    variants: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    cache: Path,
    train: TrainSettings,
) -> tuple[
    str, dict[str, list[float]], dict[str, tuple[float, float]], dict[str, dict[str, list[float]]]
]:
    """The variant chosen on the inner folds, every variant's mean curve there, its
    paired difference from the first variant (mean, standard error over tasks), and
    each inner task's curves (by task name, then variant)."""
    cs = load_configspace(data.space)
    curves: dict[str, list[np.ndarray]] = defaultdict(list)
    by_task: dict[str, dict[str, list[float]]] = {}
    for fold, inner_train, tasks in inner_splits(
        data, train_ids, args.inner_folds, args.inner_tasks, args.seed
    ):
        bundle = cached_bundle(
            data, inner_train, cache / f"inner{fold}.wsb", train, args.feature_version
        )
        recommenders = {n: bundle.recommender(replace(base, **v)) for n, v in variants.items()}
        for task_id in tasks:
            found = _task_curves(data, cs, recommenders, task_id, args.trials, args.seed, args.tpe)
            for name, curve in found.items():
                curves[name].append(curve)
            by_task[data.names[task_id]] = {n: c.tolist() for n, c in found.items()}
            print(f"  inner {fold}: {data.names[task_id]}", flush=True)
    means = {n: np.mean(c, axis=0) for n, c in curves.items()}
    paired = paired_differences(curves, next(iter(variants)))
    best = choose_variant(list(variants), paired, args.margin)
    return best, {n: m.tolist() for n, m in means.items()}, paired, by_task


def paired_differences(
    curves: Mapping[str, Sequence[np.ndarray]], reference: str
) -> dict[str, tuple[float, float]]:
    """Each arm's per-task mean regret minus the reference's: the mean difference and its
    standard error over tasks (0 for a single task)."""
    base = np.array([c.mean() for c in curves[reference]])
    out = {}
    for name, found in curves.items():
        diff = np.array([c.mean() for c in found]) - base
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
        out[name] = (float(diff.mean()), se)
    return out


def choose_variant(
    names: Sequence[str], paired: Mapping[str, tuple[float, float]], margin: float
) -> str:
    """The variant with the least mean regret (the earlier one on ties), unless it is
    better than the first, the reference, by less than ``margin`` paired standard errors."""
    best = min(names, key=lambda n: paired[n][0])  # min keeps the first of equals
    gain, se = -paired[best][0], paired[best][1]
    return best if gain > 0 and gain > margin * se else names[0]


def main(argv: Sequence[str] | None = None, train: TrainSettings | None = None) -> None:
    """Run the study (``train``: how the inner bundles are trained; the defaults if None)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="Records database URL.")
    parser.add_argument("--space", default="lightgbm")
    parser.add_argument("--feature-version", default=FEATURE_VERSION)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", help="Comma-separated outer folds (default: all).")
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--inner-tasks", type=int, default=10, help="Tasks per inner fold.")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME[:FIELD=VALUE,...] recommender settings to compare (repeatable; a variant "
        "with no fields is the fold's base settings).",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=0.0,
        help="Keep the first variant unless the best beats it by more than this many "
        "paired standard errors (default 0: the least mean regret wins).",
    )
    parser.add_argument("--base", type=Path, help="Per-fold base settings (settings_by_fold).")
    parser.add_argument("--tpe", action="store_true", help="Also run seeded TPE, for reference.")
    parser.add_argument("--cache", type=Path, default=Path("observed-loop-bundles"))
    parser.add_argument("--out", type=Path, help="Write the choices and curves as JSON here.")
    args = parser.parse_args(argv)
    if not args.margin >= 0:
        parser.error(f"--margin must be a number >= 0, but got {args.margin}")
    variants = dict(parse_variant(v) for v in args.variant or ["base"])
    given = {} if args.base is None else load_recommender_by_fold(args.base)
    with RecordStore.open(args.db, create=False) as store:
        data = load_evaluation_data(store, args.space, args.feature_version, args.folds, args.seed)
    if args.base is not None:
        check_fold_split(load_fold_split(args.base), given, data.fold_of)
    folds = list(range(args.folds))
    if args.only_folds:
        folds = sorted({int(f) for f in args.only_folds.split(",")})
    # Every field a variant sets is written out, so the file means the same whatever the
    # defaults become.
    varied = {name for values in variants.values() for name in values}
    report: dict[str, object] = {}
    by_fold: dict[str, dict[str, object]] = {}
    for fold in folds:
        train_ids = {t for t, f in data.fold_of.items() if f != fold}
        base = given.get(fold, RecommenderSettings())
        cache = args.cache / args.space / f"fold{fold}"
        chosen, means, paired, by_task = _choose(
            data, train_ids, base, variants, args, cache, train or TrainSettings()
        )
        settings = replace(base, **variants[chosen])
        by_fold[str(fold)] = {
            **changed_settings(settings),
            **{name: getattr(settings, name) for name in sorted(varied)},
        }
        report[str(fold)] = {
            "chosen": chosen,
            "mean_curves": means,
            "paired": {n: {"difference": d, "standard_error": e} for n, (d, e) in paired.items()},
            "tasks": by_task,
        }
        print(f"fold {fold}: chose {chosen}")
        for name, curve in means.items():
            at = "  ".join(f"@{t} {curve[t - 1]:.4f}" for t in SHOWN if t <= args.trials)
            diff, se = paired[name]
            print(
                f"  {name:<14} mean {float(np.mean(curve)):.4f} ({diff:+.4f} ± {se:.4f})  {at}",
                flush=True,
            )
    if args.out:
        split = fold_digests(data.fold_of)  # JSON writes the folds as strings
        args.out.write_text(
            json.dumps({"folds": report, "settings_by_fold": by_fold, "split": split}, indent=1)
        )


if __name__ == "__main__":
    main()
