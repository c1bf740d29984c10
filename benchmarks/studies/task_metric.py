"""Would a learned task distance find better neighbours? A pool study (not served).

The nearest-neighbour rules (the neighbours' best configs, the local portfolio) find
their neighbours by the plain distance: every robustly standardised meta-feature counts
the same. This study learns a weight per feature from the training tasks' measured
scores: for every pair of training tasks, one minus the Spearman correlation of their
scores (over the configs both have) is regressed, with non-negative coefficients and an
intercept, on the pair's squared differences in each standardised feature; the
coefficients, scaled to mean 1, weight the squared distance (a diagonal Mahalanobis
metric). How far to trust the fit is chosen per outer fold on inner family folds of its
training tasks, by how well each inner held-out task's measured scores are ranked by the
mean scores of its :data:`NEIGHBOURS` nearest tasks: shrunk fully, half or not at all toward
equal weights (:data:`METRIC_SHRINKS`), the learned weights kept only where they beat
equal weights there by more than one standard error of the paired per-task difference.

Then, on the outer held-out tasks (leave-family-out; nothing chosen on them), under the
plain and the chosen distance: the nearest-neighbour warm start (the best config of the
nearest training task, then of the next nearest) and the local portfolio (a greedy
portfolio of the measured scores of the :data:`LOCAL` nearest training tasks), each with
its regret at k = 1, 3, 5 and 10 among the task's evaluated configs, and the paired
difference with its standard error. Also printed: the neighbours' Spearman on the outer
tasks, and the features the distance weights most when fitted on every task.

    python -m warmstart.benchmarks.studies.task_metric --db sqlite:///kb.db --space lightgbm
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from warmstart.benchmarks.studies._folds import fold_parser, load_folds
from warmstart.metamodel.evaluation import (
    EvaluationData,
    family_folds,
    regret_curve,
    spearman_or_nan,
)
from warmstart.metamodel.portfolio import (
    ScoreMatrix,
    config_means,
    greedy_portfolio,
    primary_records,
    score_matrix,
)
from warmstart.metamodel.recommend import TaskIndex

__all__ = [
    "METRIC_SHRINKS",
    "MetricChoice",
    "choose_metric",
    "fit_metric_weights",
    "main",
    "shrunk",
]

METRIC_SHRINKS = (1.0, 0.5, 0.0)
"""Candidate shrinkages toward equal weights (1: equal weights, 0: the fitted ones);
the first is the reference a learned distance must beat."""
MIN_COMMON = 8
"""A pair of tasks with fewer configs in common says nothing about their agreement."""
NEIGHBOURS = 16
"""Nearest training tasks whose mean scores rank a held-out task's configs in the check."""


@dataclass(frozen=True)
class MetricChoice:
    """The shrinkage chosen on inner folds, and what each candidate scored there.

    Attributes:
        shrink: The chosen shrinkage toward equal weights (1: equal weights).
        spearman: Each candidate's mean Spearman correlation, over the inner held-out
            tasks, between a task's measured scores and its neighbours' mean scores.
        gain: Each candidate's paired gain over equal weights, and its standard error.
        n_tasks: Inner held-out tasks measured.
    """

    shrink: float
    spearman: Mapping[float, float]
    gain: Mapping[float, tuple[float, float]]
    n_tasks: int


def fit_metric_weights(features: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each feature's weight in the squared distance, fitted on training tasks.

    Args:
        features: Tasks x features, standardised (as :class:`TaskIndex` holds them).
        scores: Tasks x configs, normalised measured scores (NaN: not measured).

    Returns:
        Non-negative weights with mean 1; equal weights where no pair of tasks shares
        enough configs or the fit puts no weight anywhere.
    """
    n_tasks, n_features = features.shape
    measured = np.isfinite(scores)
    rows: list[np.ndarray] = []
    targets: list[float] = []
    for i in range(n_tasks):
        for j in range(i + 1, n_tasks):
            rho = _spearman(scores[i], scores[j], measured[i] & measured[j])
            if np.isfinite(rho):
                rows.append((features[i] - features[j]) ** 2)
                targets.append(1.0 - rho)
    if len(rows) <= n_features:
        return np.ones(n_features)
    design = np.hstack([np.vstack(rows), np.ones((len(rows), 1))])
    coefficients, _ = nnls(design, np.asarray(targets), maxiter=50 * design.shape[1])
    weights = coefficients[:-1]
    if not np.isfinite(weights).all() or weights.sum() <= 0:
        return np.ones(n_features)
    return np.asarray(weights / weights.mean(), dtype=float)


def shrunk(weights: np.ndarray, shrink: float) -> np.ndarray:
    """``weights`` moved ``shrink`` of the way toward equal weights."""
    return np.asarray((1.0 - shrink) * weights + shrink, dtype=float)


def choose_metric(
    features: np.ndarray,
    scores: np.ndarray,
    folds: np.ndarray,
    shrinks: Sequence[float] = METRIC_SHRINKS,
    neighbours: int = NEIGHBOURS,
) -> MetricChoice | None:
    """Choose the shrinkage on inner folds (see the module).

    Args:
        features: Tasks x features, standardised.
        scores: Tasks x configs, normalised measured scores (NaN: not measured).
        folds: Each task's inner fold (tasks of one family share one).
        shrinks: The candidates, the reference (equal weights, 1.0) first.
        neighbours: Nearest training tasks averaged.

    Returns:
        The choice, or None where fewer than two folds or two measured tasks.
    """
    if len(np.unique(folds)) < 2:
        return None
    found: dict[float, list[float]] = {s: [] for s in shrinks}
    for fold in np.unique(folds).tolist():
        held = np.flatnonzero(folds == fold)
        kept = np.flatnonzero(folds != fold)
        fitted = fit_metric_weights(features[kept], scores[kept])
        for shrink in shrinks:
            weights = shrunk(fitted, shrink)
            for task in held.tolist():
                found[shrink].append(
                    _neighbour_spearman(features, scores, task, kept, weights, neighbours)
                )
    table = np.array([found[s] for s in shrinks])  # shrinks x tasks
    measured = np.isfinite(table).all(axis=0)
    if measured.sum() < 2:
        return None
    table = table[:, measured]
    reference = table[0]
    spearman = {s: float(table[i].mean()) for i, s in enumerate(shrinks)}
    gain: dict[float, tuple[float, float]] = {}
    for i, s in enumerate(shrinks):
        diff = table[i] - reference
        gain[s] = (float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff))))
    best = max(shrinks, key=lambda s: (spearman[s], -list(shrinks).index(s)))
    mean, error = gain[best]
    chosen = best if best == shrinks[0] or mean > error else shrinks[0]
    return MetricChoice(chosen, spearman, gain, int(measured.sum()))


def _neighbour_spearman(
    features: np.ndarray,
    scores: np.ndarray,
    task: int,
    kept: np.ndarray,
    weights: np.ndarray,
    neighbours: int,
) -> float:
    """Spearman between a task's measured scores and its nearest kept tasks' mean scores."""
    distances = ((features[kept] - features[task]) ** 2 * weights).sum(axis=1)
    nearest = kept[np.argsort(distances, kind="stable")[:neighbours]]
    return _ranked_alike(scores[task], scores[nearest])


def _ranked_alike(measured: np.ndarray, neighbours: np.ndarray) -> float:
    """Spearman between a task's measured scores and its neighbours' mean scores (each
    config's mean over the neighbours that measured it)."""
    counts = np.isfinite(neighbours).sum(axis=0)
    sums = np.nansum(neighbours, axis=0)
    predicted = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return _spearman(measured, predicted, np.isfinite(measured) & np.isfinite(predicted))


def _spearman(a: np.ndarray, b: np.ndarray, both: np.ndarray) -> float:
    """Spearman correlation over the ``both`` entries; NaN with too few or no spread."""
    if both.sum() < MIN_COMMON:
        return float("nan")
    return spearman_or_nan(a[both], b[both])


LOCAL = 32
"""Nearest training tasks the local portfolio is built over (the recommender's default)."""
KS = (1, 3, 5, 10)
INNER_FOLDS = 3


def _regret(pool: Mapping[str, float], order: Sequence[str]) -> list[float]:
    """Normalised regret of the best of the first k of ``order`` at each of :data:`KS`."""
    return list(regret_curve(dict(pool), order, KS).values())


def _local_portfolio(matrix: ScoreMatrix, rows: np.ndarray, pool: Mapping[str, float]) -> list[str]:
    """The greedy portfolio of the training tasks at ``rows`` (missing counts 0), among the
    pool's configs: the recommender's local portfolio, with the neighbours given."""
    columns = [j for j, h in enumerate(matrix.config_hashes) if h in pool]
    local = ScoreMatrix(
        tuple(matrix.task_ids[r] for r in rows.tolist()),
        tuple(matrix.config_hashes[j] for j in columns),
        tuple(matrix.configs[j] for j in columns),
        matrix.scores[np.ix_(rows, np.asarray(columns, dtype=np.intp))],
    )
    return [local.config_hashes[i] for i in greedy_portfolio(local, max(KS), min_coverage=0.0)]


@dataclass
class _Found:
    """Per held-out task, under one distance: regrets of each rule, the neighbours' Spearman."""

    nearest: list[list[float]]
    local: list[list[float]]
    spearman: list[float]


def _fold(
    data: EvaluationData, fold: int, seed: int
) -> tuple[MetricChoice | None, dict[str, _Found], np.ndarray]:
    """One outer fold: the distance chosen on its training tasks, both distances' results on
    its held-out tasks, and the fitted weights."""
    train_ids = sorted(t for t, f in data.fold_of.items() if f != fold)
    matrix = score_matrix([r for t in train_ids for r in data.usable[t]])
    tasks = list(matrix.task_ids)
    index = TaskIndex.build(
        data.features[tasks[0]].names, {t: data.features[t].values for t in tasks}, {}
    )
    x = index.matrix[[index.row(t) for t in tasks]]
    inner = family_folds({t: data.families[t] for t in tasks}, INNER_FOLDS, seed)
    choice = choose_metric(x, matrix.scores, np.array([inner[t] for t in tasks]))
    fitted = fit_metric_weights(x, matrix.scores)
    weights = {
        "plain": np.ones(x.shape[1]),
        "learned": shrunk(fitted, 1.0 if choice is None else choice.shrink),
    }
    found = {name: _Found([], [], []) for name in weights}
    for task in sorted(t for t, f in data.fold_of.items() if f == fold):
        pool = config_means(primary_records(data.usable[task]))
        finite = [s for s in pool.values() if np.isfinite(s)]
        if len(finite) < 2 or max(finite) == min(finite):
            continue
        z = index.standardise(index.vector(data.features[task].as_dict()))[0]
        measured = np.array([pool.get(h, np.nan) for h in matrix.config_hashes])
        for name, w in weights.items():
            order = np.argsort(((x - z) ** 2 * w).sum(axis=1), kind="stable")
            nearest: dict[str, None] = {}  # the nearest tasks' best, in order, each once
            for row in order.tolist():
                if len(nearest) == max(KS):
                    break
                for i in matrix.best_of_task(tasks[row], 1):
                    if matrix.config_hashes[i] in pool:
                        nearest.setdefault(matrix.config_hashes[i])
            local = _local_portfolio(matrix, order[:LOCAL], pool)
            found[name].nearest.append(_regret(pool, list(nearest)))
            found[name].local.append(_regret(pool, local))
            found[name].spearman.append(_ranked_alike(measured, matrix.scores[order[:NEIGHBOURS]]))
    return choice, found, fitted


def _paired(learned: np.ndarray, plain: np.ndarray) -> str:
    diff = learned - plain
    diff = diff[np.isfinite(diff)]
    error = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return f"{diff.mean():+.4f} ± {error:.4f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = fold_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    data = load_folds(args)
    results = {name: _Found([], [], []) for name in ("plain", "learned")}
    lines = []
    for fold in range(args.folds):
        choice, found, _ = _fold(data, fold, args.seed)
        for name, got in found.items():
            results[name].nearest += got.nearest
            results[name].local += got.local
            results[name].spearman += got.spearman
        if choice is None:
            lines.append(f"fold {fold}: too few inner folds, equal weights")
        else:
            shown = ", ".join(f"{s:g}: {v:.3f}" for s, v in choice.spearman.items())
            lines.append(
                f"fold {fold}: shrink {choice.shrink:g} chosen (inner neighbours' Spearman by "
                f"shrink {shown}; {choice.n_tasks} inner tasks)"
            )
    n = len(results["plain"].spearman)
    print(f"{args.space}: {n} held-out tasks in {args.folds} family folds, fold seed {args.seed}")
    print("\n".join(lines))
    print("| rule | distance | " + " | ".join(f"regret@{k}" for k in KS) + " |")
    print("|---|---|" + "---|" * len(KS))
    for label, attribute in (
        ("nearest-neighbour warm start", "nearest"),
        (f"local portfolio ({LOCAL} nearest)", "local"),
    ):
        plain = np.array(getattr(results["plain"], attribute))
        learned = np.array(getattr(results["learned"], attribute))
        for name, values in (("plain", plain), ("learned", learned)):
            cells = " | ".join(f"{v:.4f}" for v in values.mean(axis=0))
            print(f"| {label} | {name} | {cells} |")
        cells = " | ".join(_paired(learned[:, i], plain[:, i]) for i in range(len(KS)))
        print(f"| {label} | learned - plain | {cells} |")
    plain_rho = np.array(results["plain"].spearman)
    learned_rho = np.array(results["learned"].spearman)
    print(
        f"neighbours' Spearman ({NEIGHBOURS} nearest, mean scores against the task's): plain "
        f"{np.nanmean(plain_rho):.3f}, learned {np.nanmean(learned_rho):.3f} "
        f"({_paired(learned_rho, plain_rho)})"
    )
    everyone = sorted(data.fold_of)
    matrix = score_matrix([r for t in everyone for r in data.usable[t]])
    index = TaskIndex.build(
        data.features[everyone[0]].names, {t: data.features[t].values for t in matrix.task_ids}, {}
    )
    weights = fit_metric_weights(
        index.matrix[[index.row(t) for t in matrix.task_ids]], matrix.scores
    )
    top = np.argsort(-weights, kind="stable")[:8]
    shown = ", ".join(f"{index.feature_names[i]} {weights[i]:.2f}" for i in top)
    zeros = int((weights == 0).sum())
    print(f"weights fitted on every task (mean 1; {zeros} of {len(weights)} are 0): {shown}")


if __name__ == "__main__":
    main()
