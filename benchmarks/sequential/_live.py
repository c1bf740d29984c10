"""The sequential evaluation with real training: every arm's configs trained on the held-out tasks.

Live mode's rules (:mod:`warmstart.benchmarks.live`): the folds, the task
choice and the fold bundles are the surrogate run's; each held-out task is
loaded from its suite and every config is evaluated through the runner's
protocol as the stored records were (same CV folds, row cap and seed, read
back from the records, overridable). A config evaluated twice on a task (the
seeded TPE's first trials are the loop's zero-shot answers) is trained once:
the protocol is deterministic. The loss is the negated score; regret is
normalised by the best and worst score over every config trained live on the
task (all arms) and the task's stored records measured on the same rows, folds
and seed, a failed evaluation counting as the worst. CFO starts from FLAML's
zero-shot config asked on the task's evaluated rows (LightGBM), clipped into
the space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from warmstart.benchmarks.learners import Learner
from warmstart.benchmarks.live import (
    flaml_lightgbm_params,
    recorded_protocol,
    resolve_protocol,
)
from warmstart.benchmarks.live._split import (
    comparable_scores,
    evaluated_rows,
    held_out_data,
    learner_of_stored_space,
    suite_names,
    within_rows,
)
from warmstart.benchmarks.runner import Protocol, cap_rows, evaluate_config
from warmstart.benchmarks.sequential._flaml_start import cfo_start
from warmstart.benchmarks.sequential._run import TaskInputs, fallback_notes, run_arms
from warmstart.benchmarks.sequential._surrogate import best_so_far, check_optional_libraries
from warmstart.benchmarks.sequential._types import SequentialResult, SequentialSettings, TaskRun
from warmstart.benchmarks.tasks import Suite, TaskData
from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
)
from warmstart.metamodel.evaluation import load_evaluation_data, spread_over_families
from warmstart.metamodel.spaces import config_hash, load_configspace
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue, RecordStatus

__all__ = ["LiveOptions", "run_sequential_live"]


@dataclass(frozen=True)
class LiveOptions:
    """How configs are trained in the live run (``None``: as the stored records).

    Attributes:
        row_cap: Row cap (0: the tasks' real sizes).
        cv_folds: CV folds.
        cv_seed: Seed of the splits and models.
        n_threads: Threads per model fit.
        max_rows: Only held-out tasks of at most this many rows (the store's count;
            None: all), chosen before the tasks are spread over families.
    """

    row_cap: int | None = None
    cv_folds: int | None = None
    cv_seed: int | None = None
    n_threads: int = 1
    max_rows: int | None = None

    def check(self) -> None:
        """Raise :class:`InvalidRequestError` for a ``max_rows`` below 1."""
        rows = self.max_rows
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
            raise InvalidRequestError(f"max_rows must be an integer >= 1, got {rows!r}")


class _LiveLoss:
    """A task's live objective: the negated score, each distinct config trained once."""

    def __init__(
        self, data: TaskData, learner: Learner, space_id: str, protocol: Protocol, seed: int
    ) -> None:
        self.data, self.learner, self.space_id = data, learner, space_id
        self.protocol, self.seed = protocol, seed
        self.scores: dict[str, float] = {}

    def __call__(self, config: Mapping[str, ConfigValue]) -> float:
        key = config_hash(config)
        if key not in self.scores:
            found = evaluate_config(
                self.data,
                self.learner,
                self.space_id,
                config,
                self.protocol,
                self.seed,
                suite="live",
            )
            ok = found.status is RecordStatus.OK and found.score is not None
            self.scores[key] = float(found.score) if ok else float("nan")  # type: ignore[arg-type]
        return -self.scores[key]


def _regret_so_far(losses: Sequence[float], best: float, worst: float) -> np.ndarray:
    """Best-so-far normalised regret of live losses (negated scores); a failure (NaN) is 1."""
    return best_so_far(
        [
            float(np.clip((best + v) / (best - worst), 0.0, 1.0)) if np.isfinite(v) else 1.0
            for v in losses
        ]
    )


def run_sequential_live(
    store: RecordStore,
    suite: Suite,
    space_name: str,
    feature_version: str,
    settings: SequentialSettings | None = None,
    options: LiveOptions | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> SequentialResult:
    """Run every arm with real training on held-out tasks of ``suite``.

    Raises:
        InvalidRequestError: Bad settings.
        NotFoundError: No space or learner of that name; no task could be evaluated.
        FailedPreconditionError: Too few families, a stored space that differs
            from the learner's, no held-out task in the suite, or an arm's library missing.
    """
    settings = settings or SequentialSettings()
    settings.check()
    options = options or LiveOptions()
    options.check()
    check_optional_libraries(settings.arms)
    say = progress or (lambda _: None)
    learner, space = learner_of_stored_space(store, space_name, "configs")
    data = load_evaluation_data(store, space_name, feature_version, settings.n_folds, settings.seed)
    settings.check_split(data.fold_of)
    cs = load_configspace(space)
    tasks = {t.task_id: t for t in store.list_tasks()}
    in_suite = suite_names(suite, data.names)
    if not in_suite:
        raise FailedPreconditionError(
            f"none of the {len(data.usable)} tasks with records is in suite "
            f"{suite.describe()!r}; give the suite the records were made from"
        )
    if options.max_rows is not None:
        limit = options.max_rows
        in_suite = within_rows(in_suite, tasks, max_rows=limit)
        if not in_suite:
            raise FailedPreconditionError(
                f"no task of suite {suite.describe()!r} with records has at most {limit} rows"
            )
    chosen = set(
        spread_over_families(sorted(in_suite), data.families, settings.max_tasks, settings.seed)
    )
    protocol, cv_seed, protocol_note = resolve_protocol(
        recorded_protocol((r for rs in data.usable.values() for r in rs), tasks),
        folds=options.cv_folds,
        row_cap=options.row_cap,
        seed=options.cv_seed,
    )
    say(f"live protocol: {protocol_note}; {len(chosen)} held-out tasks")
    notes: list[str] = []
    runs: list[TaskRun] = []
    for fold in range(settings.n_folds):
        test_ids = sorted(t for t, f in data.fold_of.items() if f == fold and t in chosen)
        if not test_ids:
            continue
        say(f"fold {fold + 1}/{settings.n_folds}: training")
        recommender = data.train(
            data.training_records(fold), feature_version, settings.train
        ).recommender(settings.recommender_settings(fold))
        for task_id in test_ids:
            say(f"fold {fold + 1}/{settings.n_folds}: {data.names[task_id]} ({len(runs) + 1})")
            task_data = held_out_data(suite, in_suite[task_id], task_id, data.names[task_id], notes)
            if task_data is None:
                continue
            train_rows = evaluated_rows(task_data, protocol)
            stored = comparable_scores(data.usable[task_id], train_rows, protocol, cv_seed)
            flaml_params = None
            if space_name == "lightgbm" and "flaml_cfo" in settings.arms:
                X, y = cap_rows(task_data, protocol, cv_seed)
                flaml_params = flaml_lightgbm_params(task_data.task.task_type, X, y)
            start = cfo_start(space_name, cs, flaml_params)
            loss = _LiveLoss(task_data, learner, space.space_id, protocol, cv_seed)
            finite_stored = [s for s in stored.values() if np.isfinite(s)]
            inputs = TaskInputs(
                space=cs,
                recommender=recommender,
                features=data.features[task_id].as_dict(),
                loss=loss,
                position=len(runs),
                cfo_start=start,
                train_rows=train_rows,
                worst=-min(finite_stored) if finite_stored else 0.0,
            )
            found = run_arms(inputs, settings)
            pool = [*finite_stored, *(s for s in loss.scores.values() if np.isfinite(s))]
            if len(set(pool)) < 2:
                notes.append(f"{data.names[task_id]} skipped: fewer than two distinct scores")
                continue
            best, worst = max(pool), min(pool)

            runs.append(
                found.task_run(
                    data, task_id, fold, start, partial(_regret_so_far, best=best, worst=worst)
                )
            )
    if not runs:
        raise NotFoundError("no held-out task could be evaluated live: " + "; ".join(notes))
    notes.extend(fallback_notes(runs, settings.arms))
    return SequentialResult(space_name, settings, "live", runs, notes, protocol_note)
