"""How many rows should a leaf of the surrogate's trees hold? The training's choice, measured.

The surrogate's leaves held at least 20 rows, set by hand. Training now chooses the leaf
size (``min_child_samples``, among :data:`~warmstart.metamodel.bundle.LEAF_ROWS`) on inner
family folds of its training tasks, by the mean Spearman between predicted and measured
scores of a fixed set of configs (:mod:`warmstart.metamodel.bundle._leaf_choice`). This
study measures that choice where it chose nothing: for each outer leave-family-out fold,
the choice is made on the fold's training tasks exactly as training makes it, and
surrogates with the old and the chosen leaf size are compared on the fold's held-out tasks:
the Spearman over the fold's 32 fixed configs (the evaluation's task-dependence set), the
agreement of predicted and measured rankings across tasks, and the regret of the predicted
best among each task's evaluated configs, with the paired per-task differences and their
standard errors.

    python -m warmstart.benchmarks.studies.surrogate_settings --db sqlite:///kb.db --space lightgbm
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from warmstart.benchmarks.studies._folds import at_least, fold_parser, load_folds
from warmstart.benchmarks.studies._held_out import fixed_configs, held_out_pools
from warmstart.metamodel.bundle import (
    LEAF_ROWS,
    TrainSettings,
    choose_leaf_rows,
    inner_folds,
    train_from_records,
)
from warmstart.metamodel.evaluation import (
    EvaluationData,
    RankedTask,
    agreement,
    finite_mean,
    spearman_or_nan,
)
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import EvaluationRecord

OLD = SurrogateParams().min_child_samples
"""The leaf size before the choice: the surrogate's own setting."""


@dataclass(frozen=True)
class HeldTask:
    """A held-out task's fixed-set scores (``measured``, and predicted by leaf size), and the
    regret of each leaf size's predicted best over everything measured on the task."""

    ranked: RankedTask
    regret: dict[int, float]

    def spearman(self, rows: int) -> float:
        """Spearman between the predicted (leaf size ``rows``) and measured fixed-set scores."""
        return spearman_or_nan(self.ranked.scores[str(rows)], self.ranked.scores["measured"])


def recommender(
    data: EvaluationData, records: list[EvaluationRecord], rows: int, feature_version: str
) -> Recommender:
    """A recommender on ``records`` whose surrogate's leaves hold ``rows`` rows (no validation)."""
    settings = TrainSettings(
        surrogate=replace(SurrogateParams(), min_child_samples=rows), validation_folds=0
    )
    return train_from_records(
        data.space, records, data.features, data.names, feature_version, settings, fit_time=False
    ).recommender()


def held_out_scores(
    data: EvaluationData,
    fold: int,
    records: list[EvaluationRecord],
    test_ids: Sequence[str],
    leaf_rows: Sequence[int],
    feature_version: str,
) -> list[HeldTask]:
    """Each leaf size's predictions for the tasks of ``test_ids``, trained on ``records``."""
    fixed = fixed_configs(records)
    models = {rows: recommender(data, records, rows, feature_version) for rows in leaf_rows}
    held = []
    for _, pool, features in held_out_pools(data, test_ids, fixed):
        ranked = RankedTask(fold, pool.fixed, {"measured": pool.measured[pool.index]})
        regret = {}
        for rows, model in models.items():
            predicted = np.asarray(model.predict(features, pool.configs)[0])
            ranked.scores[str(rows)] = predicted[pool.index]
            regret[rows] = pool.regret_of_best(predicted)
        held.append(HeldTask(ranked, regret))
    return held


def paired(first: Sequence[float], second: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of ``second - first`` over the pairs where both are finite."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    diff = (b - a)[np.isfinite(a) & np.isfinite(b)]
    if len(diff) < 2:
        return float("nan"), float("nan")
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = fold_parser(__doc__.splitlines()[0])
    parser.add_argument("--inner-folds", type=at_least(2), default=3)
    args = parser.parse_args(argv)
    data = load_folds(args)
    found: list[tuple[HeldTask, int]] = []
    for fold in range(args.folds):
        train_ids = sorted(t for t, f in data.fold_of.items() if f != fold)
        test_ids = sorted(t for t, f in data.fold_of.items() if f == fold)
        records = [r for t in train_ids for r in data.usable[t]]
        folds = inner_folds(records, data.features, data.families, args.inner_folds, 0)
        choice = (
            None
            if folds is None
            else choose_leaf_rows(
                folds,
                data.features,
                OLD,
                LEAF_ROWS,
                lambda kept, rows: recommender(data, kept, rows, args.feature_version),
            )
        )
        chosen = OLD if choice is None else choice.min_child_samples
        inner = (
            ""
            if choice is None
            else ", ".join(f"{rows} {rho:.3f}" for rows, rho in choice.spearman.items())
        )
        print(
            f"fold {fold}: inner Spearman by rows per leaf: {inner or 'not measured'}; "
            f"chosen: {chosen}",
            flush=True,
        )
        held = held_out_scores(
            data, fold, records, test_ids, sorted({OLD, chosen}), args.feature_version
        )
        found += [(h, chosen) for h in held]
    print(f"{args.space}: {len(found)} held-out tasks, {args.folds} folds, fold seed {args.seed}")
    print("| leaves | Spearman | agreement, predicted | agreement, measured | regret@1 |")
    print("|---|---|---|---|---|")
    for label, rows_of in ((f"{OLD} rows", lambda _: OLD), ("chosen inside", lambda c: c)):
        tasks = [
            RankedTask(
                h.ranked.fold,
                h.ranked.hashes,
                {"predicted": h.ranked.scores[str(rows_of(c))], **h.ranked.scores},
            )
            for h, c in found
        ]
        rho = finite_mean([h.spearman(rows_of(c)) for h, c in found])
        print(
            f"| {label} | {rho:.3f} | {agreement(tasks, 'predicted'):.3f} | "
            f"{agreement(tasks, 'measured'):.3f} | "
            f"{np.mean([h.regret[rows_of(c)] for h, c in found]):.4f} |"
        )
    rho_gain = paired([h.spearman(OLD) for h, _ in found], [h.spearman(c) for h, c in found])
    regret_gain = paired([h.regret[OLD] for h, _ in found], [h.regret[c] for h, c in found])
    print(
        f"chosen minus {OLD} rows, per task: Spearman {rho_gain[0]:+.4f} ± {rho_gain[1]:.4f}, "
        f"regret@1 {regret_gain[0]:+.4f} ± {regret_gain[1]:.4f}"
    )


if __name__ == "__main__":
    main()
