"""The sequential evaluation on surrogate benchmarks (the seeding mode's objective and folds).

Leave-family-out as the pool, seeding and live modes: for each fold a bundle
is trained on the other folds' records (:meth:`EvaluationData.train`); the
held-out tasks are chosen and spread over families as the seeding mode
chooses them. Each held-out task is the seeding mode's surrogate benchmark
(:class:`~warmstart.metamodel.evaluation.TaskObjective`: a random forest on
the task's evaluated configs, normalised regret clipped to [0, 1]), and every
arm minimises that regret for ``n_trials`` trials.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from warmstart.benchmarks.sequential._flaml_start import cfo_start, flaml_zeroshot_for_task
from warmstart.benchmarks.sequential._run import TaskInputs, fallback_notes, run_arms
from warmstart.benchmarks.sequential._types import SequentialResult, SequentialSettings, TaskRun
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation import (
    TaskObjective,
    load_evaluation_data,
    spread_over_families,
)
from warmstart.metamodel.spaces import load_configspace
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, RecordStatus, Task

__all__ = [
    "SurrogateLoss",
    "best_so_far",
    "check_optional_libraries",
    "run_sequential",
    "train_rows_of",
]


def best_so_far(losses: Sequence[float], worst: float = 1.0) -> np.ndarray:
    """Running minimum of the losses, a failed (NaN) trial counting as ``worst``."""
    values = np.nan_to_num(np.asarray(losses, dtype=float), nan=worst)
    return np.asarray(np.minimum.accumulate(values), dtype=float)


class SurrogateLoss:
    """A surrogate benchmark's regret of one config, as :meth:`TaskObjective.regret` gives it.

    The same forest and encoding, averaged over the trees directly: scikit-learn's
    ``predict`` dispatches through joblib even with one job, which costs more than
    the trees themselves on one row and would dominate a 50-trial run.
    """

    def __init__(self, objective: TaskObjective) -> None:
        self.objective = objective
        self.trees = [tree.tree_ for tree in objective.forest.estimators_]

    def __call__(self, config: Mapping[str, ConfigValue]) -> float:
        encoded = self.objective.encoder.encode([dict(config)])
        # As TaskObjective encodes: inactive parameters (NaN) become -1.
        row = np.asarray(np.nan_to_num(encoded, nan=-1.0), dtype=np.float32)
        score = sum(float(tree.predict(row)[0, 0]) for tree in self.trees) / len(self.trees)
        best, worst = self.objective.best, self.objective.worst
        return float(np.clip((best - score) / (best - worst), 0.0, 1.0))


def check_optional_libraries(arms: Sequence[str]) -> None:
    """Raise when an arm's library is missing.

    Raises:
        FailedPreconditionError: Naming the arm, the library and how to install it.
    """
    needs = {"tpe_cold": "optuna", "tpe_seeded": "optuna", "flaml_cfo": "flaml"}
    extras = {"optuna": "optimizers", "flaml": "evaluation"}
    for arm in arms:
        library = needs.get(arm)
        if library is None:
            continue
        try:
            __import__(library)
        except ImportError:
            raise FailedPreconditionError(
                f"arm {arm!r} needs {library}: pip install 'warmstart[{extras[library]}]', "
                "or leave the arm out"
            ) from None


def train_rows_of(records: Sequence[EvaluationRecord], task: Task) -> int:
    """Rows a model is fitted on under the records' protocol: a CV training fold's share."""
    used: Counter[int] = Counter()
    folds: Counter[int] = Counter()
    for record in records:
        if record.status is RecordStatus.OK:
            if "rows_used" in record.metrics:
                used[int(record.metrics["rows_used"])] += 1
            if record.metrics.get("folds", 0) >= 2:
                folds[int(record.metrics["folds"])] += 1
    rows = used.most_common(1)[0][0] if used else task.n_rows
    k = folds.most_common(1)[0][0] if folds else 3
    return max(1, rows * (k - 1) // k)


def run_sequential(
    store: RecordStore,
    space_name: str,
    feature_version: str,
    settings: SequentialSettings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> SequentialResult:
    """Run every arm on surrogate benchmarks of the held-out tasks of one space.

    Raises:
        InvalidRequestError: Bad settings.
        FailedPreconditionError: Too few families, or an arm's library missing.
    """
    settings = settings or SequentialSettings()
    settings.check()
    check_optional_libraries(settings.arms)
    say = progress or (lambda _: None)
    data = load_evaluation_data(store, space_name, feature_version, settings.n_folds, settings.seed)
    settings.check_split(data.fold_of)
    cs = load_configspace(data.space)
    tasks = {t.task_id: t for t in store.list_tasks()}
    chosen = set(
        spread_over_families(sorted(data.fold_of), data.families, settings.max_tasks, settings.seed)
    )
    runs: list[TaskRun] = []
    for fold in range(settings.n_folds):
        test_ids = sorted(t for t, f in data.fold_of.items() if f == fold and t in chosen)
        if not test_ids:
            continue
        say(f"fold {fold + 1}/{settings.n_folds}: training")
        bundle = data.train(data.training_records(fold), feature_version, settings.train)
        recommender = bundle.recommender(settings.recommender_settings(fold))
        for task_id in test_ids:
            say(f"fold {fold + 1}/{settings.n_folds}: {data.names[task_id]} ({len(runs) + 1})")
            objective = TaskObjective(cs, data.usable[task_id], seed=settings.seed)
            flaml_params = None
            if space_name == "lightgbm" and "flaml_cfo" in settings.arms:
                rows = train_rows_of(data.usable[task_id], tasks[task_id])
                flaml_params = flaml_zeroshot_for_task(tasks[task_id], rows)
            start = cfo_start(space_name, cs, flaml_params)
            inputs = TaskInputs(
                space=cs,
                recommender=recommender,
                features=data.features[task_id].as_dict(),
                loss=SurrogateLoss(objective),
                position=len(runs),
                cfo_start=start,
            )
            found = run_arms(inputs, settings)
            runs.append(found.task_run(data, task_id, fold, start, best_so_far))
    notes = []
    if space_name != "lightgbm" and "flaml_cfo" in settings.arms:
        notes.append(
            f"FLAML has no zero-shot config mapped for {space_name!r}: CFO starts from the "
            "space's default config"
        )
    notes.extend(fallback_notes(runs, settings.arms))
    return SequentialResult(space_name, settings, "surrogate", runs, notes)
