"""Train a bundle for one space from the records store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from warmstart.metamodel.bundle._bundle import ModelBundle
from warmstart.metamodel.bundle._validate import DEFAULT_RULE, choose_set_rule
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.portfolio import ScoreMatrix, greedy_portfolio, score_matrix
from warmstart.metamodel.recommend import TaskIndex
from warmstart.metamodel.spaces import load_configspace
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.surrogate import (
    Normalisation,
    Surrogate,
    SurrogateParams,
    build_training_table,
    left_out_tasks,
)
from warmstart.metamodel.types import EvaluationRecord, SearchSpace, TaskFeatures

__all__ = ["TrainSettings", "TrainedBundle", "train_bundle", "train_from_records", "train_space"]


@dataclass(frozen=True)
class TrainSettings:
    """How a bundle is trained."""

    surrogate: SurrogateParams = field(default_factory=SurrogateParams)
    normalisation: Normalisation = "rank"
    portfolio_size: int = 16
    best_per_task: int = 3
    validation_folds: int = 3
    """Inner family folds that choose the set rule (0: no validation, ``expected_best``)."""


def train_from_records(
    space: SearchSpace,
    records: list[EvaluationRecord],
    features: dict[str, TaskFeatures],
    task_names: dict[str, str],
    feature_version: str,
    settings: TrainSettings | None = None,
    *,
    families: Mapping[str, str] | None = None,
    fit_time: bool = True,
) -> ModelBundle:
    """Train on given records (the evaluation calls this with training folds only).

    Args:
        space: The search space of the records.
        records: The training records.
        features: Meta-features by task id (tasks without them are left out).
        task_names: Task names by id, for the index.
        feature_version: The version of ``features``.
        settings: How to train.
        families: Each task's family. Given (and ``settings.validation_folds`` > 0),
            the set rule is chosen on inner family folds of these records
            (:mod:`warmstart.metamodel.bundle._validate`) and its figures are the bundle's
            metrics; otherwise the bundle serves ``expected_best``.
        fit_time: Train the surrogate's fit-time model (the inner bundles that choose
            the set rule never answer a time limit, and skip it).
    """
    settings = settings or TrainSettings()
    encoder = ConfigEncoder(load_configspace(space))
    table = build_training_table(records, features, encoder, normalisation=settings.normalisation)
    surrogate = Surrogate.fit(table, settings.surrogate, fit_time=fit_time)
    used = sorted(set(table.groups.tolist()))
    index = TaskIndex.build(
        features[used[0]].names, {t: features[t].values for t in used}, task_names
    )
    matrix = score_matrix([r for r in records if r.task_id in set(used)])
    portfolio = [matrix.configs[i] for i in greedy_portfolio(matrix, settings.portfolio_size)]
    task_best = {
        task_id: [matrix.configs[i] for i in matrix.best_of_task(task_id, settings.best_per_task)]
        for task_id in matrix.task_ids
    }
    validation = None
    if families is not None and settings.validation_folds > 0:
        inner = replace(settings, validation_folds=0)
        validation = choose_set_rule(
            records,
            features,
            families,
            settings.validation_folds,
            settings.surrogate.seed,
            lambda kept: train_from_records(
                space, kept, features, task_names, feature_version, inner, fit_time=False
            ).recommender(),
        )
    created = datetime.now(UTC)
    return ModelBundle(
        version=f"{space.name}-{created:%Y%m%dT%H%M%S}-{table.data_hash[:8]}",
        space=space,
        feature_version=feature_version,
        surrogate=surrogate,
        index=index,
        portfolio=portfolio,
        task_best=task_best,
        task_scores=_task_scores(matrix),
        training={
            "records": len(table.y),
            "tasks": table.n_tasks,
            "data_hash": table.data_hash,
            "normalisation": settings.normalisation,
            "seed": settings.surrogate.seed,
            # Each training task's largest training size (log rows), the size its
            # "world" is predicted at when the recommender looks at neighbours.
            "task_log_train_rows": {t: round(v, 6) for t, v in sorted(table.task_sizes.items())},
            "set_rules": {"1": DEFAULT_RULE}
            if validation is None
            else {str(k): rule for k, rule in validation.rules.items()},
            **({} if validation is None else {"set_rule_procedure": validation.procedure}),
        },
        metrics={
            **({} if validation is None else validation.metrics()),
            **(
                {} if surrogate.fit_time is None else {"fit_time.margin": surrogate.fit_time_margin}
            ),
        },
        created_at=created,
    )


def _task_scores(matrix: ScoreMatrix) -> dict[str, dict[str, float]]:
    """Each task's measured scores by config hash, as the local portfolio rules read them."""
    return {
        task_id: {
            digest: float(value)
            for digest, value in zip(matrix.config_hashes, row.tolist(), strict=True)
            if np.isfinite(value)
        }
        for task_id, row in zip(matrix.task_ids, matrix.scores, strict=True)
    }


@dataclass(frozen=True)
class TrainedBundle:
    """A bundle trained from the store, and the tasks with records it was not trained on.

    Attributes:
        bundle: The trained bundle.
        left_out: ``{task_id: reason}`` for each task with records of the space
            that training left out (see :func:`warmstart.metamodel.surrogate.left_out_tasks`).
        task_names: ``{task_id: name}`` of every stored task, to name them.
    """

    bundle: ModelBundle
    left_out: Mapping[str, str]
    task_names: Mapping[str, str]


def train_space(
    store: RecordStore,
    space_name: str,
    feature_version: str,
    settings: TrainSettings | None = None,
) -> TrainedBundle:
    """Train a bundle on every record of the newest version of a space; say what was left out.

    Raises:
        NotFoundError: No space of that name.
        FailedPreconditionError: No records, or no task with usable meta-features
            of ``feature_version`` (the message says why each task is left out).
    """
    space = store.find_space(space_name)
    records = store.get_records(RecordFilter(space_id=space.space_id))
    if not records:
        raise FailedPreconditionError(
            f"no records of space {space_name!r} ({space.space_id}); run `warmstart bench run` "
            "or `warmstart records import`"
        )
    features = store.list_task_features(feature_version)
    stored = store.list_tasks()
    names = {t.task_id: t.name for t in stored}
    families = {t.task_id: t.family or t.name for t in stored}
    left_out = left_out_tasks(records, features, feature_version)
    n_tasks = len({r.task_id for r in records})
    if len(left_out) == n_tasks:
        reasons = sorted(set(left_out.values()))
        raise FailedPreconditionError(
            f"none of the {n_tasks} tasks with records of space {space_name!r} can be trained "
            f"on ({'; '.join(reasons)}); compute meta-features with `warmstart features "
            "compute --suite ...` or import them with `warmstart features import`, and give "
            "their version with --feature-version"
        )
    # Features that describe nothing are no features: such tasks take no part at all.
    usable = {t: f for t, f in features.items() if not f.all_missing}
    bundle = train_from_records(
        space, records, usable, names, feature_version, settings, families=families
    )
    return TrainedBundle(bundle, left_out, names)


def train_bundle(
    store: RecordStore,
    space_name: str,
    feature_version: str,
    settings: TrainSettings | None = None,
) -> ModelBundle:
    """Train a bundle on every record of the newest version of a space.

    Raises:
        NotFoundError: No space of that name.
        FailedPreconditionError: No records, or no meta-features of ``feature_version``.
    """
    return train_space(store, space_name, feature_version, settings).bundle
