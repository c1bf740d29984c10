"""Pool-mode evaluation: leave-family-out, choosing among configs evaluated on each held-out task.

Tasks are split into folds by dataset family (near-duplicates never straddle
train and test). For each fold a bundle is trained on the other folds' records
only; every method then orders the held-out task's evaluated configs, and the
normalised regret of the best of the first k follows HPO-B:
``(best_t - max_{c in first k} score_t(c)) / (best_t - worst_t)`` over every
config evaluated on t (a failed evaluation counts as the worst).

Methods: ``warmstart`` (this model, asked once for each k: its best of k is the
best of its answer to a request for k, chosen by the set rule served at k),
``default`` (the library default, then random), ``random``, ``single_best``
(configs by mean normalised score over the training tasks), ``greedy_portfolio``
(auto-sklearn 2.0 / TabRepo) and ``nearest_neighbour`` (the best config of each
nearest training task in meta-feature space, auto-sklearn 1.0).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.evaluation._dependence import (
    DependenceCollector,
    TaskDependence,
    sampled_fixed,
)
from warmstart.metamodel.evaluation._tasks import (
    EvaluationData,
    family_folds,
    load_evaluation_data,
)
from warmstart.metamodel.pools import TaskPool, full_size_pool, primary_pool
from warmstart.metamodel.portfolio import (
    ScoreMatrix,
    greedy_portfolio,
    mean_order,
    score_matrix,
)
from warmstart.metamodel.recommend import Recommender, TaskIndex
from warmstart.metamodel.spaces import config_hash, default_config, load_configspace
from warmstart.metamodel.store import RecordStore

__all__ = [
    "METHODS",
    "EvalSettings",
    "FoldRules",
    "PoolEvaluation",
    "TaskResult",
    "evaluate_fold",
    "evaluate_pool",
    "family_folds",
    "mean_order",
    "neighbour_order",
    "regret_curve",
]

METHODS = (
    "warmstart",
    "default",
    "random",
    "single_best",
    "greedy_portfolio",
    "nearest_neighbour",
)


@dataclass(frozen=True)
class EvalSettings:
    """How the evaluation runs."""

    ks: tuple[int, ...] = (1, 3, 5, 10)
    n_folds: int = 5
    seed: int = 0
    random_repeats: int = 20
    train: TrainSettings = field(default_factory=TrainSettings)


@dataclass(frozen=True)
class TaskResult:
    """Regret of every method at every k on one held-out task."""

    task_id: str
    name: str
    family: str
    fold: int
    pool_size: int
    regret: dict[str, dict[int, float]]
    full_size: dict[str, dict[int, float]] | None = None
    """Every method's regret on the task's full-size pool (asked at its rows), where it
    has one (:mod:`warmstart.metamodel.pools`)."""
    full_size_rows: int | None = None
    """The rows of that pool."""
    full_size_sample_rules: dict[int, float] | None = None
    """warmstart's regret there when served the rules chosen for the primary pools' size
    (what the full-size rules change)."""


@dataclass(frozen=True)
class FoldRules:
    """The set rules a fold's bundle served, chosen on the fold's inner folds.

    Attributes:
        rules: The rule served from each k on (the bundle's ``set_rules``).
        procedure: How the inner folds chose them (``training.set_rule_procedure``;
            ``"none"`` where no validation ran).
    """

    rules: dict[int, str]
    procedure: str
    full_size: tuple[int, dict[int, str]] | None = None
    """Above how many rows other rules serve, and those rules (None: none)."""


@dataclass
class PoolEvaluation:
    """Per-task results and their summaries.

    Attributes:
        space_name: The space evaluated.
        settings: How it ran.
        tasks: One result per held-out task.
        n_records: The space's records in all.
        left_out: ``{task name: reason}`` for the tasks with records that took no
            part (no usable meta-features, or fewer than two distinct scores).
        dependence: How much the surrogate's rankings depend on the task
            (:class:`~warmstart.metamodel.evaluation._dependence.TaskDependence`).
        fold_rules: What each fold's bundle served, by fold.
    """

    space_name: str
    settings: EvalSettings
    tasks: list[TaskResult]
    n_records: int
    left_out: dict[str, str] = field(default_factory=dict)
    dependence: TaskDependence | None = None
    fold_rules: dict[int, FoldRules] = field(default_factory=dict)

    def mean_regret(self, method: str, k: int) -> float:
        """Mean normalised regret of the best of the first k."""
        return float(np.mean([t.regret[method][k] for t in self.tasks]))

    @property
    def full_size_tasks(self) -> list[TaskResult]:
        """The tasks measured on a full-size pool too."""
        return [t for t in self.tasks if t.full_size is not None]

    def mean_full_size_regret(self, method: str, k: int) -> float:
        """Mean normalised regret of the best of the first k on the full-size pools (NaN:
        none); ``method`` ``"sample_rules"`` is warmstart served its primary-size rules."""
        found = [
            t.full_size_sample_rules[k] if method == "sample_rules" else t.full_size[method][k]
            for t in self.tasks
            if t.full_size is not None and t.full_size_sample_rules is not None
        ]
        return float(np.mean(found)) if found else float("nan")

    def average_rank(self, k: int) -> dict[str, float]:
        """Mean rank of each method per task at k (1 = best; ties share)."""
        from scipy.stats import rankdata

        ranks = np.array(
            [rankdata([t.regret[m][k] for m in METHODS], method="average") for t in self.tasks]
        )
        return {m: float(ranks[:, i].mean()) for i, m in enumerate(METHODS)}

    def win_rate(self, baseline: str, k: int) -> float:
        """Share of tasks where warmstart's regret at k is lower (ties count half)."""
        wins = [
            1.0
            if t.regret["warmstart"][k] < t.regret[baseline][k] - 1e-12
            else 0.5
            if abs(t.regret["warmstart"][k] - t.regret[baseline][k]) <= 1e-12
            else 0.0
            for t in self.tasks
        ]
        return float(np.mean(wins))


def regret_curve(
    scores: dict[str, float], order: Sequence[str], ks: Sequence[int]
) -> dict[int, float]:
    """Normalised regret of the best of the first k configs of ``order``."""
    finite = [s for s in scores.values() if np.isfinite(s)]
    best, worst = max(finite), min(finite)
    span = best - worst
    out = {}
    for k in ks:
        chosen = [scores[h] for h in order[:k] if h in scores]
        got = max((s for s in chosen if np.isfinite(s)), default=worst)
        out[k] = 0.0 if span <= 0 else float((best - got) / span)
    return out


def _fill(order: list[str], pool: Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    """Keep pool members of ``order`` (deduplicated), then add random pool configs up to n."""
    members = set(pool)
    kept: list[str] = []
    for digest in order:
        if digest in members and digest not in kept:
            kept.append(digest)
    rest = [h for h in pool if h not in kept]
    rng.shuffle(rest)
    return (kept + rest)[:n]


def evaluate_pool(
    store: RecordStore,
    space_name: str,
    feature_version: str,
    settings: EvalSettings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> PoolEvaluation:
    """Run the leave-family-out pool evaluation of one space.

    Raises:
        FailedPreconditionError: Too few tasks or families with records and meta-features.
    """
    settings = settings or EvalSettings()
    data = load_evaluation_data(
        store,
        space_name,
        feature_version,
        settings.n_folds,
        settings.seed,
        probes=settings.train.probes > 0,
    )
    results: list[TaskResult] = []
    configspace = load_configspace(data.space)
    dependence = DependenceCollector(ConfigEncoder(configspace), sampled=sampled_fixed(configspace))
    fold_rules: dict[int, FoldRules] = {}
    for fold in range(settings.n_folds):
        if progress is not None:
            train_ids = [t for t, f in data.fold_of.items() if f != fold]
            progress(f"fold {fold + 1}/{settings.n_folds}: training on {len(train_ids)} tasks")
        results += evaluate_fold(
            data,
            fold,
            feature_version,
            settings,
            first=len(results),
            dependence=dependence,
            served=fold_rules,
        )
    left_out = {data.left_out_names[t]: why for t, why in data.left_out.items()}
    return PoolEvaluation(
        space_name,
        settings,
        results,
        data.n_records,
        left_out,
        dependence.result(),
        fold_rules,
    )


def evaluate_fold(
    data: EvaluationData,
    fold: int,
    feature_version: str,
    settings: EvalSettings,
    *,
    first: int = 0,
    dependence: DependenceCollector | None = None,
    served: dict[int, FoldRules] | None = None,
) -> list[TaskResult]:
    """Pool mode on one leave-family-out fold: a bundle trained on the other folds' records
    (its set rules chosen on their inner family folds), every method's regret on each of the
    fold's tasks.

    Args:
        data: The space's records and meta-features in folds (a study may give the tasks
            other features than the store's).
        fold: The held-out fold.
        feature_version: What the bundle records as its feature version.
        settings: How the evaluation runs.
        first: How many tasks earlier folds evaluated (seeds each task's random fill).
        dependence: Collects the task-dependence figures, if given.
        served: Given, the fold bundle's set rules go in at ``served[fold]``.
    """
    usable = data.usable
    max_k = max(settings.ks)
    default_hash = config_hash(default_config(load_configspace(data.space)))
    train_ids = {t for t, f in data.fold_of.items() if f != fold}
    test_ids = sorted(t for t, f in data.fold_of.items() if f == fold)
    train_records = [r for t in train_ids for r in usable[t]]
    bundle = data.train(train_records, feature_version, settings.train)
    recommender = bundle.recommender()
    # The same recommender (its world table shared) serving its primary-size rules at
    # every size.
    sample_rules = copy.copy(recommender)
    sample_rules.full_size_choice = None
    if served is not None:
        procedure = str(bundle.training.get("set_rule_procedure", "none"))
        served[fold] = FoldRules(
            dict(sorted(bundle.set_rules.items())), procedure, bundle.full_size_rules
        )
    matrix = score_matrix(train_records)
    single = mean_order(matrix)
    portfolio = [matrix.config_hashes[i] for i in greedy_portfolio(matrix, max_k)]
    nearest = {
        t: neighbour_order(
            recommender.index, recommender.probes.inputs(data.request(t), read=False), matrix
        )
        for t in test_ids
    }
    results: list[TaskResult] = []
    for task_id in test_ids:
        primary = primary_pool(usable[task_id], data.features.get(task_id))
        rng = np.random.default_rng([settings.seed, fold, first + len(results)])
        feats = data.request(task_id)
        # The model is asked at the rows the pool was trained on (metamodel.pools).
        regret, asked = _pool_regret(
            recommender,
            feats,
            primary,
            single,
            portfolio,
            nearest[task_id],
            default_hash,
            settings,
            rng,
        )
        if dependence is not None:
            dependence.add(
                fold,
                single,
                bundle.surrogate,
                recommender.task_input(feats, primary.rows),
                primary.scores,
                primary.configs,
                asked[5] if 5 in asked else asked[max_k],
            )
        full = full_size_pool(usable[task_id], data.features.get(task_id))
        full_regret, unsized = None, None
        if full is not None and full.rows is not None and full.spread > 0:
            full_rng = np.random.default_rng([settings.seed, fold, first + len(results), 1])
            full_regret, _ = _pool_regret(
                recommender,
                feats,
                full,
                single,
                portfolio,
                nearest[task_id],
                default_hash,
                settings,
                full_rng,
            )
            candidates = [full.configs[h] for h in full.hashes]
            unsized = {
                k: regret_curve(
                    full.scores,
                    [full.hashes[i] for i in sample_rules.choose(feats, candidates, k, full.rows)],
                    (k,),
                )[k]
                for k in settings.ks
            }
        results.append(
            TaskResult(
                task_id,
                data.names[task_id],
                data.families[task_id],
                fold,
                len(primary.scores),
                regret,
                full_regret,
                None if full_regret is None or full is None else full.rows,
                unsized,
            )
        )
    return results


def _pool_regret(
    recommender: Recommender,
    feats: dict[str, float],
    pool: TaskPool,
    single: list[str],
    portfolio: list[str],
    nearest: list[str],
    default_hash: str,
    settings: EvalSettings,
    rng: np.random.Generator,
) -> tuple[dict[str, dict[int, float]], dict[int, list[str]]]:
    """Every method's regret on one pool, and the model's answer to each k (hashes)."""
    max_k = max(settings.ks)
    hashes = pool.hashes
    candidates = [pool.configs[h] for h in hashes]
    # A request for k configs is answered by the set rule served at k: best of k is
    # measured on the answer to k, not on the first k of a longer answer.
    asked = {
        k: [hashes[i] for i in recommender.choose(feats, candidates, k, pool.rows)]
        for k in settings.ks
    }
    orders: dict[str, list[str]] = {
        "warmstart": asked[max_k],
        "default": _fill([default_hash], hashes, max_k, rng),
        "single_best": _fill(single, hashes, max_k, rng),
        "greedy_portfolio": _fill(portfolio, hashes, max_k, rng),
        "nearest_neighbour": _fill(nearest, hashes, max_k, rng),
    }
    regret = {m: regret_curve(pool.scores, o, settings.ks) for m, o in orders.items()}
    regret["warmstart"] = {k: regret_curve(pool.scores, asked[k], (k,))[k] for k in settings.ks}
    repeats = [
        regret_curve(pool.scores, _fill([], hashes, max_k, rng), settings.ks)
        for _ in range(settings.random_repeats)
    ]
    regret["random"] = {k: float(np.mean([r[k] for r in repeats])) for k in settings.ks}
    return {m: regret[m] for m in METHODS}, asked


def neighbour_order(index: TaskIndex, features: dict[str, float], matrix: ScoreMatrix) -> list[str]:
    """The best config of the nearest training task, then of the next nearest, ..."""
    nearest, _ = index.neighbours(index.vector(features), len(index.task_ids))
    order: list[str] = []
    for neighbour in nearest:
        if neighbour.task_id in matrix.task_ids:
            for i in matrix.best_of_task(neighbour.task_id, 1):
                order.append(matrix.config_hashes[i])
    return order
