"""Do the learner's own scores on a small sample tell tasks apart? A study.

Issue 19 asks for task descriptions that carry more signal about which configs
win, and names the strongest known: landmarkers run with the learner itself.
Here a task is also described by *probes*: a few of the space's configs trained
on a small sample of the task (``--probe-rows`` rows, 3-fold CV, a seed other
than the records'), by the runner's own protocol, as a service could do on a
user's table. A task's probe features are the probes' scores less their mean
(which config wins on this task) and that mean (how hard the task is).

The probes are chosen per outer fold from its training records alone
(:func:`~warmstart.metamodel.probes.choose_probes`): among the configs evaluated on
most training tasks and cheaper than the median to fit, a pivoted QR of the tasks x
configs rank matrix (each config's mean rank removed) picks the configs whose rankings
vary across tasks in the most different ways. The library default, if recorded, is
always the first probe.

Leave-family-out, nothing chosen on the reported folds: for each outer fold,
whether the surrogate reads the probe features is chosen on inner family folds
of its training tasks, by the mean Spearman between predicted and measured
scores of the fold's fixed configs (the 32 best on its training tasks); ties
keep the meta-features alone. (The inner folds use the outer fold's probes,
chosen on records that include the inner held-out tasks: a small advantage to
the probes in the choice, none in the reported figures.) Printed for the outer
folds' held-out tasks: that Spearman, also over the fixed configs other than the
probes (whose scores on a sample the model reads), the agreement of predicted and
measured rankings across tasks, the regret of the predicted best among each task's
evaluated configs, and what the probes cost; then pool mode
(:func:`~warmstart.metamodel.evaluation.evaluate_fold`: each fold's bundle with its set
rules chosen on inner folds, its answer to each k) for both task descriptions and the
chosen one, beside the free baselines.

    python -m warmstart.benchmarks.studies.learner_probes --db sqlite:///kb.db \\
        --space lightgbm --suite pmlb:PATH --workers 2 --cache probes.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from warmstart.benchmarks.live import learner_of_stored_space, suite_names
from warmstart.benchmarks.probes import scores_in_workers
from warmstart.benchmarks.runner import Protocol
from warmstart.benchmarks.studies._folds import at_least, fold_parser, load_folds
from warmstart.benchmarks.studies._held_out import MIN_COMMON, fixed_configs, held_out_pools
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.evaluation import (
    EvalSettings,
    EvaluationData,
    RankedTask,
    TaskResult,
    agreement,
    evaluate_fold,
    family_folds,
    finite_mean,
    spearman_or_nan,
)
from warmstart.metamodel.probe_choice import choose_probes
from warmstart.metamodel.probes import Probe, with_probe_inputs
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue


def _with_probes(
    data: EvaluationData, probes: Sequence[str], scores: Mapping[str, Mapping[str, float]]
) -> EvaluationData:
    features = {
        t: with_probe_inputs(f, probes, scores.get(t, {})) for t, f in data.features.items()
    }
    return dataclasses.replace(data, features=features)


def _held_out(
    variants: Mapping[str, EvaluationData],
    fold: int,
    train_ids: Sequence[str],
    test_ids: Sequence[str],
    feature_version: str,
) -> dict[str, list[tuple[RankedTask, float]]]:
    """Per variant, each held-out task's fixed-set scores (predicted, measured) and regret@1."""
    first = next(iter(variants.values()))
    records = [r for t in train_ids for r in first.usable[t]]
    fixed = fixed_configs(records)
    out: dict[str, list[tuple[RankedTask, float]]] = {}
    for name, data in variants.items():
        bundle = data.train(records, feature_version, TrainSettings(validation_folds=0))
        model = bundle.recommender()
        out[name] = []
        for _, pool, features in held_out_pools(data, test_ids, fixed):
            predicted, _ = model.predict(features, pool.configs)
            predicted = np.asarray(predicted)
            measured = pool.measured[pool.index]
            ranked = RankedTask(
                fold, pool.fixed, {"predicted": predicted[pool.index], "measured": measured}
            )
            out[name].append((ranked, pool.regret_of_best(predicted)))
    return out


def _spearman(
    found: Sequence[tuple[RankedTask, float]], leave_out: Mapping[int, set[str]] | None = None
) -> float:
    """Mean Spearman of predicted against measured; ``leave_out[fold]``: hashes not counted."""
    rhos = []
    for task, _ in found:
        skip = leave_out.get(task.fold, set()) if leave_out else set()
        keep = [i for i, h in enumerate(task.hashes) if h not in skip]
        if len(keep) >= MIN_COMMON:
            rhos.append(
                spearman_or_nan(task.scores["predicted"][keep], task.scores["measured"][keep])
            )
    return finite_mean(rhos)


def _compute_probes(
    args: argparse.Namespace,
    data: EvaluationData,
    learner_name: str,
    space_id: str,
    wanted: Mapping[str, dict[str, dict[str, ConfigValue]]],
    cache: dict[str, dict[str, float]],
    seconds: dict[str, float],
) -> None:
    """Fill ``cache[task][hash]`` with the probe scores ``wanted`` still lacks."""
    in_suite = suite_names(load_suite(args.suite), data.names)
    missing = {
        task_id: {h: c for h, c in configs.items() if h not in cache.get(task_id, {})}
        for task_id, configs in wanted.items()
        if task_id in in_suite
    }
    missing = {task_id: configs for task_id, configs in missing.items() if configs}
    jobs = [(in_suite[task_id], list(configs.values())) for task_id, configs in missing.items()]
    protocol = Protocol(folds=3, row_cap=args.probe_rows)
    found = scores_in_workers(
        args.suite, jobs, learner_name, space_id, protocol, args.probe_seed, args.workers
    )
    for (task_id, configs), (values, took) in zip(missing.items(), found, strict=True):
        cache.setdefault(task_id, {}).update(zip(configs, values, strict=True))
        seconds[task_id] = seconds.get(task_id, 0.0) + took


def _read_cache(parser: argparse.ArgumentParser, path: Path | None) -> dict[str, Any]:
    """The probe cache at ``path`` (empty if none); a parser error if it is not one."""
    if path is None or not path.exists():
        return {}
    try:
        saved: object = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        parser.error(f"--cache {path}: cannot read it as JSON ({exc})")
    if not isinstance(saved, dict) or not all(
        isinstance(tasks, dict) and all(isinstance(scores, dict) for scores in tasks.values())
        for tasks in saved.values()
    ):
        parser.error(
            f"--cache {path}: not a probe cache (expected {{protocol: {{task id: "
            "{config hash: score}}}}, as this study writes)"
        )
    return saved


def main(argv: Sequence[str] | None = None) -> None:
    parser = fold_parser(__doc__.splitlines()[0], trains=True)
    parser.add_argument("--probes", type=at_least(1), default=4)
    parser.add_argument("--probe-rows", type=at_least(20), default=300)
    parser.add_argument("--probe-seed", type=at_least(0), default=1)
    parser.add_argument("--inner-folds", type=at_least(2), default=3)
    parser.add_argument("--cache", type=Path, help="Read and write the probe scores here (JSON).")
    args = parser.parse_args(argv)
    saved = _read_cache(parser, args.cache)
    data = load_folds(args)
    with RecordStore.open(args.db, create=False) as store:
        learner, space = learner_of_stored_space(store, args.space, "probes")
    key = f"rows {args.probe_rows}, seed {args.probe_seed}"
    cache: dict[str, dict[str, float]] = saved.get(key, {})
    seconds: dict[str, float] = {}
    probes: dict[int, list[Probe]] = {}
    wanted: dict[str, dict[str, dict[str, ConfigValue]]] = defaultdict(dict)
    default = learner.default_config()
    for fold in range(args.folds):
        probes[fold] = choose_probes(data.training_records(fold), args.probes, default)
        for task_id in data.usable:
            wanted[task_id].update(dict(probes[fold]))
    _compute_probes(args, data, learner.name, space.space_id, wanted, cache, seconds)
    if args.cache:
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        partial = args.cache.with_name(args.cache.name + ".partial")
        partial.write_text(json.dumps(saved | {key: cache}, indent=0) + "\n")
        partial.replace(args.cache)  # a run stopped while writing leaves the old cache whole
    rows: dict[str, list[tuple[RankedTask, float]]] = defaultdict(list)
    chosen = []
    pool: dict[str, list[TaskResult]] = defaultdict(list)
    for fold in range(args.folds):
        hashes = [h for h, _ in probes[fold]]
        variants = {
            "meta-features": data,
            "meta-features and probes": _with_probes(data, hashes, cache),
        }
        train_ids = sorted(t for t, f in data.fold_of.items() if f != fold)
        test_ids = sorted(t for t, f in data.fold_of.items() if f == fold)
        inner_of = family_folds(
            {t: data.families[t] for t in train_ids}, args.inner_folds, args.seed
        )
        inner: dict[str, list[tuple[RankedTask, float]]] = defaultdict(list)
        for q in range(args.inner_folds):
            kept = [t for t in train_ids if inner_of[t] != q]
            out = [t for t in train_ids if inner_of[t] == q]
            for name, found in _held_out(variants, q, kept, out, args.feature_version).items():
                inner[name] += found
        inner_rho = {name: _spearman(found) for name, found in inner.items()}
        pick = max(variants, key=lambda n: (inner_rho[n], n == "meta-features"))
        chosen.append((pick, inner_rho))
        outer = _held_out(variants, fold, train_ids, test_ids, args.feature_version)
        for name, found in outer.items():
            rows[name] += found
        rows["chosen on inner folds"] += outer[pick]
        settings = EvalSettings(n_folds=args.folds, seed=args.seed)
        first = len(pool["meta-features"])
        answered = {
            name: evaluate_fold(variant, fold, args.feature_version, settings, first=first)
            for name, variant in variants.items()
        }
        for name, found_pool in answered.items():
            pool[name] += found_pool
        pool["chosen on inner folds"] += answered[pick]
    cost = np.array(list(seconds.values())) if seconds else np.array([np.nan])
    print(
        f"{args.space}: {len(rows['meta-features'])} held-out tasks, {args.folds} folds; "
        f"{args.probes} probes a fold on {args.probe_rows} rows, 3-fold CV, seed {args.probe_seed}"
    )
    print(
        f"probe seconds a task (all folds' probes, computed this run, {len(seconds)} tasks): "
        f"median {np.median(cost):.2f}, 90th percentile {np.quantile(cost, 0.9):.2f}, "
        f"max {np.max(cost):.2f}"
    )
    for fold, (pick, inner_rho) in enumerate(chosen):
        said = ", ".join(f"{n} {r:.3f}" for n, r in inner_rho.items())
        names = ", ".join(h[:8] for h, _ in probes[fold])
        print(f"fold {fold}: probes {names}; inner Spearman {said}; chose {pick}")
    probed = {fold: {h for h, _ in found} for fold, found in probes.items()}
    print(
        "| features | Spearman | Spearman, probe configs left out | agreement, predicted "
        "| agreement, measured | regret@1 |"
    )
    print("|---|---|---|---|---|---|")
    for name, found in rows.items():
        tasks = [t for t, _ in found]
        print(
            f"| {name} | {_spearman(found):.3f} | {_spearman(found, probed):.3f} | "
            f"{agreement(tasks, 'predicted'):.3f} | {agreement(tasks, 'measured'):.3f} | "
            f"{np.mean([r for _, r in found]):.4f} |"
        )
    _print_pool(pool)


def _print_pool(pool: Mapping[str, Sequence[TaskResult]]) -> None:
    """Pool mode's mean regret at each k: the bundle's answer per task description, and the
    free baselines (the nearest neighbour's distance reads the task description too)."""
    ks = (1, 3, 5, 10)
    print("\npool mode, best of k of the answer to k (set rules chosen on inner folds):")
    print("| method | " + " | ".join(f"regret@{k}" for k in ks) + " |")
    print("|---|" + "---|" * len(ks))

    def line(label: str, tasks: Sequence[TaskResult], method: str) -> None:
        means = [np.mean([t.regret[method][k] for t in tasks]) for k in ks]
        print(f"| {label} | " + " | ".join(f"{m:.4f}" for m in means) + " |")

    for name, tasks in pool.items():
        line(f"warmstart, {name}", tasks, "warmstart")
    base = pool["meta-features"]
    for method in ("default", "single_best", "greedy_portfolio", "random"):
        line(method.replace("_", " "), base, method)
    for name in ("meta-features", "meta-features and probes"):
        line(f"nearest neighbour, {name}", pool[name], "nearest_neighbour")


if __name__ == "__main__":
    main()
