"""Train a bundle for one space from the records store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from warmstart.metamodel.bundle._bundle import ModelBundle
from warmstart.metamodel.bundle._leaf_choice import LEAF_ROWS, choose_leaf_rows
from warmstart.metamodel.bundle._validate import DEFAULT_RULE, choose_set_rule, inner_folds
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.portfolio import ScoreMatrix, greedy_portfolio, score_matrix
from warmstart.metamodel.probe_choice import choose_probes
from warmstart.metamodel.probes import (
    probe_input_names,
    probe_scores_of,
    probe_version,
    split_rule,
    with_probe_inputs,
)
from warmstart.metamodel.recommend import Recommender, TaskIndex
from warmstart.metamodel.spaces import default_config, load_configspace
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
    probes: int = 0
    """How many learner probes the model reads (:mod:`warmstart.metamodel.probes`; 0: none).
    Where the training tasks' probe scores are given, the set rule of each k is chosen
    with and without reading them, on the inner folds; where they read them at no k, the
    bundle is the one trained without probes."""
    probe_masked: float = 0.25
    """The share of training tasks whose probe inputs the surrogate sees as missing, so
    that it also answers requests that carry no probes."""
    leaf_rows: tuple[int, ...] = LEAF_ROWS
    """The rows per leaf (``min_child_samples``) of the surrogate's trees that the inner
    folds choose among, besides the surrogate's own (:mod:`._leaf_choice`; empty: the
    surrogate's own, no choice). Chosen only where the set rule is validated."""

    def __post_init__(self) -> None:
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in self.leaf_rows):
            raise ValueError(f"leaf_rows must be integers >= 1, got {self.leaf_rows!r}")
        if isinstance(self.probes, bool) or not isinstance(self.probes, int) or self.probes < 0:
            raise ValueError(f"probes must be an integer >= 0, got {self.probes!r}")
        if not 0.0 <= self.probe_masked < 1.0:
            raise ValueError(f"probe_masked must be in [0, 1), got {self.probe_masked!r}")


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
    probe_scores: Mapping[str, Mapping[str, float]] | None = None,
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
        probe_scores: Each task's probe scores by config hash (the store's
            :func:`~warmstart.metamodel.probes.probe_version` feature set). Read where
            ``settings.probes`` > 0: the probes are chosen among the configs scored here.
    """
    settings = settings or TrainSettings()
    configspace = load_configspace(space)
    probes = []
    if settings.probes > 0 and probe_scores:
        scored = {h for scores in probe_scores.values() for h in scores}
        probes = choose_probes(records, settings.probes, default_config(configspace), scored)
    validation, leaf = None, None
    if families is not None and settings.validation_folds > 0:
        inner = replace(settings, validation_folds=0, leaf_rows=())
        # Inner bundles by (kept tasks, probes read, rows per leaf): the leaf-size choice
        # and the set-rule validation split the tasks alike, so the rule validation reuses
        # the bundles of the chosen leaf size.
        cache: dict[tuple[tuple[str, ...], int, int], Recommender] = {}

        def inner_bundle(kept: list[EvaluationRecord], reads: int, rows: int) -> Recommender:
            key = (tuple(sorted({r.task_id for r in kept})), reads, rows)
            if key not in cache:
                cache[key] = train_from_records(
                    space,
                    kept,
                    features,
                    task_names,
                    feature_version,
                    replace(
                        inner,
                        probes=reads,
                        surrogate=replace(inner.surrogate, min_child_samples=rows),
                    ),
                    fit_time=False,
                    probe_scores=probe_scores,
                ).recommender()
            return cache[key]

        folds = inner_folds(
            records, features, families, settings.validation_folds, settings.surrogate.seed
        )
        if folds is not None and settings.leaf_rows:
            leaf = choose_leaf_rows(
                folds,
                features,
                settings.surrogate.min_child_samples,
                settings.leaf_rows,
                lambda kept, rows: inner_bundle(kept, 0, rows),
            )
        if leaf is not None:
            rows = leaf.min_child_samples
            settings = replace(
                settings, surrogate=replace(settings.surrogate, min_child_samples=rows)
            )
            for key in [k for k in cache if k[2] != rows]:
                del cache[key]
        chosen_rows = settings.surrogate.min_child_samples
        validation = choose_set_rule(
            records,
            features,
            families,
            settings.validation_folds,
            settings.surrogate.seed,
            lambda kept: inner_bundle(kept, 0, chosen_rows),
            probe_scores=probe_scores if probes else None,
            train_probed=(
                (lambda kept: inner_bundle(kept, settings.probes, chosen_rows)) if probes else None
            ),
        )
        cache.clear()
    read = validation is not None and any(split_rule(r)[1] for r in validation.rules.values())
    considered = 0
    if probes and validation is not None and not read:
        # The inner folds read the probes at no k: the bundle is the one trained without
        # them, its rules chosen again among the rules that read none (measured on inner
        # models trained without probes, so the figures are those a validation without
        # probes gives), and no client runs them. Decided before the surrogate is fitted,
        # so that no probed surrogate is fitted for nothing.
        validation = validation.restricted(lambda rule: not split_rule(rule)[1])
        considered, probes = len(probes), []
    encoder = ConfigEncoder(configspace)
    model_features, table_features = features, features
    if probes:
        hashes = [h for h, _ in probes]
        masked = _masked(sorted(features), settings.probe_masked, settings.surrogate.seed)
        model_features = {
            t: with_probe_inputs(f, hashes, probe_scores.get(t, {}) if probe_scores else {})
            for t, f in features.items()
        }
        table_features = {
            t: with_probe_inputs(f, hashes, {}) if t in masked else model_features[t]
            for t, f in features.items()
        }
    table = build_training_table(
        records, table_features, encoder, normalisation=settings.normalisation
    )
    surrogate = Surrogate.fit(table, settings.surrogate, fit_time=fit_time)
    used = sorted(set(table.groups.tolist()))
    index = TaskIndex.build(
        model_features[used[0]].names,
        {t: model_features[t].values for t in used},
        task_names,
        optional=len(probe_input_names(len(probes))) if probes else 0,
    )
    matrix = score_matrix([r for r in records if r.task_id in set(used)])
    portfolio = [matrix.configs[i] for i in greedy_portfolio(matrix, settings.portfolio_size)]
    task_best = {
        task_id: [matrix.configs[i] for i in matrix.best_of_task(task_id, settings.best_per_task)]
        for task_id in matrix.task_ids
    }
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
            **(
                {
                    "full_size_above_rows": validation.full_size_above,
                    "set_rules_full_size": {
                        str(k): rule for k, rule in validation.full_size.rules.items()
                    },
                    "set_rule_procedure_full_size": validation.full_size.procedure,
                }
                if validation is not None
                and validation.full_size is not None
                and validation.full_size_above is not None
                else {}
            ),
            **(
                {
                    "probes": {
                        "version": probe_version(space.name),
                        "masked": settings.probe_masked,
                        "configs": [{"hash": h, "config": c} for h, c in probes],
                    }
                }
                if probes
                else {}
            ),
            **({"probes_considered": considered} if considered else {}),
        },
        metrics={
            **({} if validation is None else validation.metrics()),
            **({} if leaf is None else leaf.metrics()),
            **(
                {} if surrogate.fit_time is None else {"fit_time.margin": surrogate.fit_time_margin}
            ),
        },
        created_at=created,
    )


def _masked(task_ids: list[str], share: float, seed: int) -> set[str]:
    """The tasks (``share`` of them, drawn with ``seed``) whose probes training hides."""
    n = round(share * len(task_ids))
    order = np.random.default_rng([seed, 7]).permutation(len(task_ids))
    return {task_ids[i] for i in order[:n]}


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
    settings = settings or TrainSettings()
    probe_scores = (
        probe_scores_of(store.list_task_features(probe_version(space_name)))
        if settings.probes > 0
        else None
    )
    if settings.probes > 0 and not probe_scores:
        raise FailedPreconditionError(
            f"no probe scores of space {space_name!r} are stored (feature set "
            f"{probe_version(space_name)!r}); measure them with `warmstart kb build` or "
            "import them with `warmstart features import`, or train with no probes"
        )
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
        space,
        records,
        usable,
        names,
        feature_version,
        settings,
        families=families,
        probe_scores=probe_scores,
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
