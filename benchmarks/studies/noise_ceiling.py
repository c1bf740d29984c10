"""How much of the measured disagreement between tasks is measurement noise? A replicate study.

Issue 19 reads task dependence from two figures on a fixed set of configs (the
configs best on a fold's training tasks): the Spearman correlation, per held-out
task, between the surrogate's predicted scores and the measured ones; and how much
the predicted rankings agree across tasks against how much the measured ones do.
Both measured sides are one evaluation per config (one seed: one row sample, one
CV split, one model seed), so they carry noise, and noise lowers both the
correlation any predictor can reach and the agreement between tasks' measured
rankings. This study measures that noise: for the held-out tasks of each
leave-family-out fold it evaluates the fold's fixed configs again with another
seed (the stored records' protocol otherwise: CV folds, row cap), and prints

- ``replicate``: per task, the Spearman correlation between the two seeds'
  scores (the test-retest reliability of a task's measured ranking): what a
  second measurement, the best predictor of the first there is, reaches;
- the surrogate's Spearman with the stored scores, with the replicate's, and with
  their mean;
- agreement across tasks (mean Spearman over pairs of held-out tasks of a fold)
  of the predicted rankings, of the stored rankings, of the replicate's, of the
  two seeds' mean, and between one task's stored and another's replicate scores;
- the measured agreement corrected for the noise (divided by the mean
  replicate correlation: the classical correction for attenuation, applied to
  ranks, so approximate): an estimate of how much the tasks' *true* rankings agree.

    python -m warmstart.benchmarks.studies.noise_ceiling --db sqlite:///kb.db \\
        --space lightgbm --suite pmlb:PATH --tasks-per-fold 12 --workers 2
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warmstart.benchmarks.live import (
    learner_of_stored_space,
    recorded_protocol,
    resolve_protocol,
    spread_over_families,
    suite_names,
)
from warmstart.benchmarks.probes import scores_in_workers
from warmstart.benchmarks.studies._folds import at_least, fold_parser, load_folds
from warmstart.benchmarks.studies._held_out import MIN_COMMON, N_FIXED, fixed_configs
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.evaluation import (
    RankedTask,
    agreement,
    finite_mean,
    spearman_or_nan,
)
from warmstart.metamodel.portfolio import config_means, primary_records
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue


@dataclass(frozen=True)
class NoiseCeiling:
    """The study's figures (see the module)."""

    n_tasks: int
    replicate: float
    model_vs_stored: float
    model_vs_replicate: float
    model_vs_mean: float
    predicted_agreement: float
    stored_agreement: float
    replicate_agreement: float
    mean_agreement: float
    cross_agreement: float

    @property
    def corrected_agreement(self) -> float:
        """The stored rankings' agreement across tasks divided by the replicate correlation."""
        return self.stored_agreement / self.replicate if self.replicate > 0 else float("nan")


def ceiling(tasks: Sequence[RankedTask]) -> NoiseCeiling:
    """The figures over ``tasks``, each with ``predicted``, ``stored`` and ``replicate``
    scores."""
    tasks = [
        RankedTask(
            t.fold, t.hashes, {**t.scores, "mean": (t.scores["stored"] + t.scores["replicate"]) / 2}
        )
        for t in tasks
    ]

    def within(first: str, second: str) -> float:
        return finite_mean([spearman_or_nan(t.scores[first], t.scores[second]) for t in tasks])

    return NoiseCeiling(
        n_tasks=len(tasks),
        replicate=within("stored", "replicate"),
        model_vs_stored=within("predicted", "stored"),
        model_vs_replicate=within("predicted", "replicate"),
        model_vs_mean=within("predicted", "mean"),
        predicted_agreement=agreement(tasks, "predicted"),
        stored_agreement=agreement(tasks, "stored"),
        replicate_agreement=agreement(tasks, "replicate"),
        mean_agreement=agreement(tasks, "mean"),
        cross_agreement=agreement(tasks, "stored", "replicate"),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = fold_parser(__doc__.splitlines()[0], trains=True)
    parser.add_argument("--tasks-per-fold", type=at_least(1), default=12)
    parser.add_argument("--replicate-seed", type=at_least(0), default=1)
    parser.add_argument("--out", type=Path, help="Write every task's scores here (JSON).")
    args = parser.parse_args(argv)
    data = load_folds(args)
    with RecordStore.open(args.db, create=False) as store:
        learner, space = learner_of_stored_space(store, args.space, "replicates")
        stored_tasks = {t.task_id: t for t in store.list_tasks()}
    primary = {t: primary_records(rs) for t, rs in data.usable.items()}
    protocol, seed, _ = resolve_protocol(
        recorded_protocol((r for rs in primary.values() for r in rs), stored_tasks)
    )
    if args.replicate_seed == seed:
        parser.error(f"--replicate-seed must differ from the records' seed ({seed})")
    suite = load_suite(args.suite)
    in_suite = suite_names(suite, data.names)
    plans: list[tuple[int, str, list[str], dict[str, float], dict[str, dict[str, ConfigValue]]]]
    plans = []
    recommenders = {}
    for fold in range(args.folds):
        train = data.training_records(fold)
        fixed = fixed_configs(train)
        held = [t for t, f in data.fold_of.items() if f == fold and t in in_suite]
        for task_id in spread_over_families(held, data.families, args.tasks_per_fold, args.seed):
            scores = config_means(primary[task_id])
            configs = {r.config_hash: dict(r.config) for r in primary[task_id]}
            hashes = [h for h in fixed if np.isfinite(scores.get(h, np.nan))]
            if len(hashes) >= MIN_COMMON:
                plans.append((fold, task_id, hashes, scores, configs))
        settings = TrainSettings(validation_folds=0)
        recommenders[fold] = data.train(train, args.feature_version, settings).recommender()
    jobs = [
        (in_suite[task_id], [configs[h] for h in hashes])
        for _, task_id, hashes, _, configs in plans
    ]
    found = scores_in_workers(
        args.suite, jobs, learner.name, space.space_id, protocol, args.replicate_seed, args.workers
    )
    replicates = [scores for scores, _ in found]
    tasks: list[RankedTask] = []
    names: list[str] = []
    for (fold, task_id, hashes, scores, configs), again in zip(plans, replicates, strict=True):
        both = [i for i, value in enumerate(again) if np.isfinite(value)]
        if len(both) < MIN_COMMON:
            continue
        kept = [hashes[i] for i in both]
        features = data.features[task_id].as_dict()
        predicted, _ = recommenders[fold].predict(features, [configs[h] for h in kept])
        stored = np.array([scores[h] for h in kept])
        replicate = np.array(again)[both]
        ranked = {"predicted": np.asarray(predicted), "stored": stored, "replicate": replicate}
        tasks.append(RankedTask(fold, kept, ranked))
        names.append(data.names[task_id])
    figures = ceiling(tasks)
    print(
        f"{args.space}: {figures.n_tasks} held-out tasks, up to {N_FIXED} fixed configs each, "
        f"{protocol.describe()}, stored seed {seed} against seed {args.replicate_seed}"
    )
    print("| figure | value |\n|---|---|")
    rows = {
        "Spearman, the replicate vs the stored scores": figures.replicate,
        "Spearman, the surrogate vs the stored scores": figures.model_vs_stored,
        "Spearman, the surrogate vs the replicate": figures.model_vs_replicate,
        "Spearman, the surrogate vs the two seeds' mean": figures.model_vs_mean,
        "agreement across tasks, predicted": figures.predicted_agreement,
        "agreement across tasks, stored": figures.stored_agreement,
        "agreement across tasks, replicate": figures.replicate_agreement,
        "agreement across tasks, the two seeds' mean": figures.mean_agreement,
        "agreement across tasks, stored vs replicate": figures.cross_agreement,
        "agreement across tasks, stored, corrected for the noise": figures.corrected_agreement,
    }
    for name, value in rows.items():
        print(f"| {name} | {value:.3f} |")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "protocol": protocol.describe(),
            "stored_seed": seed,
            "replicate_seed": args.replicate_seed,
            "figures": {k: round(v, 4) for k, v in rows.items()},
            "tasks": [
                {"fold": t.fold, "name": name, "configs": t.hashes}
                | {k: t.scores[k].round(5).tolist() for k in ("predicted", "stored", "replicate")}
                for t, name in zip(tasks, names, strict=True)
            ],
        }
        args.out.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
