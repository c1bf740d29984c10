"""The seeding experiment: Optuna's TPE cold against TPE seeded with warmstart's suggestions.

Leave-family-out, as in pool mode: for each fold a bundle is trained on the
other folds' records. Each held-out task becomes an objective over the whole
search space: a random forest fitted on the configs evaluated on that task
(a *surrogate benchmark*, HPO-B's convention for comparing optimizers without
re-training models at every trial). Its normalised regret,
``(best_t - f(c)) / (best_t - worst_t)`` with best and worst the forest's own
highest and lowest values over the task's evaluated configs, is clipped to [0, 1].
The cold arm runs TPE from scratch; the seeded arm enqueues the model's top-k
suggestions (chosen over the whole space, not the pool) and lets TPE continue.
Both arms share the TPE seed, which differs between tasks and repeats.

Optuna is an optional dependency (the ``optimizers`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from ConfigSpace import ConfigurationSpace

from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation._tasks import load_evaluation_data, spread_over_families
from warmstart.metamodel.optuna_space import suggest_from_space
from warmstart.metamodel.spaces import load_configspace
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, RecordStatus

if TYPE_CHECKING:
    import optuna

__all__ = ["ARMS", "SeedingResult", "SeedingSettings", "TaskObjective", "run_seeding"]

ARMS = ("cold", "seeded")


@dataclass(frozen=True)
class SeedingSettings:
    """How the seeding experiment runs."""

    n_trials: int = 50
    k: int = 10
    repeats: int = 3
    max_tasks: int | None = None
    n_folds: int = 5
    seed: int = 0
    train: TrainSettings = field(default_factory=TrainSettings)


@dataclass
class SeedingResult:
    """Best-so-far normalised regret per trial, one row per (task, repeat)."""

    space_name: str
    settings: SeedingSettings
    task_names: list[str]
    curves: dict[str, np.ndarray]

    def mean_curve(self, arm: str) -> np.ndarray:
        """Mean best-so-far regret after each trial (index 0 = after trial 1)."""
        return np.asarray(self.curves[arm].mean(axis=0), dtype=float)

    def at(self, arm: str, trial: int) -> float:
        """Mean best-so-far regret after ``trial`` trials (1-based)."""
        return float(self.mean_curve(arm)[trial - 1])

    def share_at_least_as_good(self, trial_seeded: int, trial_cold: int) -> float:
        """Share of (task, repeat) runs where seeded at one trial is <= cold at another."""
        seeded = self.curves["seeded"][:, trial_seeded - 1]
        cold = self.curves["cold"][:, trial_cold - 1]
        return float(np.mean(seeded <= cold + 1e-12))


class TaskObjective:
    """A held-out task as a function of the config: a random forest on its evaluations.

    Regret is measured in the forest's own units: 0 is the forest's value at the
    task's best evaluated config, 1 its value at the worst. (A forest averages its
    leaves, so its highest value lies below the best measured score: measured against
    that score, every config would carry a share of regret that no optimizer can
    lose.) A config the forest puts above every evaluated one has regret 0.

    Args:
        space: The search space.
        records: The task's records (only the successful ones are fitted).
        seed: Seed of the forest.

    Attributes:
        best: The forest's highest value over the evaluated configs (regret 0).
        worst: Its lowest value over them (regret 1).
        measured_best: The best measured score.
        measured_worst: The worst measured score.

    Raises:
        FailedPreconditionError: Fewer than two distinct scores, or a forest that
            gives every evaluated config the same value.
    """

    def __init__(
        self, space: ConfigurationSpace, records: Sequence[EvaluationRecord], seed: int = 0
    ) -> None:
        from sklearn.ensemble import RandomForestRegressor

        ok = [r for r in records if r.status is RecordStatus.OK and r.score is not None]
        scores = np.array([float(r.score) for r in ok if r.score is not None])
        if len(np.unique(scores)) < 2:
            raise FailedPreconditionError("a task needs two distinct scores to be an objective")
        self.measured_best, self.measured_worst = float(scores.max()), float(scores.min())
        self.encoder = ConfigEncoder(space)
        X = self._encode([dict(r.config) for r in ok])
        self.forest = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
        self.forest.fit(X, scores)
        fitted = self.forest.predict(X)
        self.best, self.worst = float(fitted.max()), float(fitted.min())
        if self.best <= self.worst:
            raise FailedPreconditionError(
                "the task's forest gives every evaluated config the same value"
            )

    def _encode(self, configs: list[dict[str, ConfigValue]]) -> np.ndarray:
        # Inactive parameters are NaN; the forest wants a number outside [0, 1].
        return np.asarray(np.nan_to_num(self.encoder.encode(configs), nan=-1.0), dtype=float)

    def regret(self, config: Mapping[str, ConfigValue]) -> float:
        """Normalised regret of one config, in [0, 1]."""
        score = float(self.forest.predict(self._encode([dict(config)]))[0])
        return float(np.clip((self.best - score) / (self.best - self.worst), 0.0, 1.0))


def _study_curve(
    objective: TaskObjective,
    space: ConfigurationSpace,
    n_trials: int,
    seed: int,
    enqueue: Sequence[Mapping[str, ConfigValue]] = (),
) -> np.ndarray:
    """Best-so-far regret after each of ``n_trials`` TPE trials (minimising regret)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    for config in enqueue:
        study.enqueue_trial(dict(config), skip_if_exists=True)

    def run(trial: optuna.Trial) -> float:
        try:
            config = suggest_from_space(trial, space)
        except optuna.TrialPruned:
            return 1.0  # a config the space forbids: as bad as the task's worst
        return objective.regret(config)

    study.optimize(run, n_trials=n_trials)
    values = np.array([t.value for t in study.trials if t.value is not None], dtype=float)
    return np.minimum.accumulate(values)


def run_seeding(
    store: RecordStore,
    space_name: str,
    feature_version: str,
    settings: SeedingSettings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> SeedingResult:
    """Run the seeding experiment on one space.

    Raises:
        FailedPreconditionError: Too few families with records and meta-features.
    """
    settings = settings or SeedingSettings()
    data = load_evaluation_data(store, space_name, feature_version, settings.n_folds, settings.seed)
    space, features, usable, names, fold_of = (
        data.space,
        data.features,
        data.usable,
        data.names,
        data.fold_of,
    )
    cs = load_configspace(space)
    # The same spread-out subset as live mode picks for the same store and seed.
    chosen = set(
        spread_over_families(sorted(fold_of), data.families, settings.max_tasks, settings.seed)
    )
    rows: dict[str, list[np.ndarray]] = {arm: [] for arm in ARMS}
    done: list[str] = []
    for fold in range(settings.n_folds):
        test_ids = sorted(t for t, f in fold_of.items() if f == fold and t in chosen)
        if not test_ids:
            continue
        bundle = data.train(data.training_records(fold), feature_version, settings.train)
        recommender = bundle.recommender()
        for task_id in test_ids:
            if progress is not None:
                progress(f"fold {fold + 1}/{settings.n_folds}: {names[task_id]}")
            objective = TaskObjective(cs, usable[task_id], seed=settings.seed)
            advice = recommender.suggest(features[task_id].as_dict(), settings.k)
            seeds = [s.config for s in advice.suggestions]
            for repeat in range(settings.repeats):
                # Both arms share a seed; tasks do not, so their random starts differ.
                tpe_seed = settings.seed * 1_000_003 + len(done) * 101 + repeat
                rows["cold"].append(_study_curve(objective, cs, settings.n_trials, tpe_seed))
                rows["seeded"].append(
                    _study_curve(objective, cs, settings.n_trials, tpe_seed, enqueue=seeds)
                )
            done.append(names[task_id])
    return SeedingResult(space_name, settings, done, {arm: np.vstack(rows[arm]) for arm in ARMS})
