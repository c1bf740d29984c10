"""The surrogate's training table: [task meta-features, encoded config] → normalised score.

Scores are normalised within each task so that tasks of different difficulty
are comparable: ``rank`` (the default) maps a task's scores to their rank
percentile in [0, 1], robust to a diverged config scoring -1e6; ``minmax`` is
HPO-B's (score - worst) / (best - worst). Failed and timed-out evaluations are
kept as the worst outcome (0): knowing a config breaks on such tasks is worth
learning. Tasks with fewer than two distinct scores carry no ranking signal
and are left out, as are tasks without meta-features or whose meta-features
are all missing; :func:`left_out_tasks` names them with the reason.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.stats import rankdata

from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.surrogate._size import SIZE_INPUT, log_rows, size_source
from warmstart.metamodel.types import EvaluationRecord, RecordStatus, TaskFeatures

__all__ = [
    "Normalisation",
    "TrainingTable",
    "build_training_table",
    "left_out_tasks",
    "normalise_scores",
]

Normalisation = Literal["rank", "minmax"]


def normalise_scores(scores: Sequence[float], how: Normalisation = "rank") -> np.ndarray:
    """Map one task's scores to [0, 1], 1 for the best."""
    values = np.asarray(scores, dtype=float)
    if len(values) == 0:
        return values
    if how == "rank":
        if len(values) == 1:
            return np.ones(1)
        ranks = np.asarray(rankdata(values, method="average"), dtype=float)
        return (ranks - 1.0) / (len(values) - 1.0)
    if how == "minmax":
        low, high = float(values.min()), float(values.max())
        return np.ones_like(values) if high == low else (values - low) / (high - low)
    raise InvalidRequestError(f"normalisation must be 'rank' or 'minmax', got {how!r}")


@dataclass(frozen=True)
class TrainingTable:
    """Rows of [meta-features, encoded config], their targets and task groups.

    Attributes:
        X: ``(n, n_meta + n_config)`` floats; NaN where undefined or inactive.
        y: Normalised score per row, in [0, 1].
        log_fit_seconds: ``log1p`` of the fit time per row (NaN if unknown).
        groups: The task id of each row.
        feature_names: Column names: meta-features, then ``cfg:<parameter>``.
        categorical: Indices of categorical columns (config choices).
        n_meta: How many leading columns describe the task: the meta-features, and
            the training size (:data:`~warmstart.metamodel.surrogate._size.SIZE_INPUT`) where the
            feature set gives the table's rows.
        data_hash: Hash of everything the table was built from.
        task_sizes: Per task, the largest training size among its records (the
            :data:`~warmstart.metamodel.surrogate._size.SIZE_INPUT` value; empty without the input).
    """

    X: np.ndarray
    y: np.ndarray
    log_fit_seconds: np.ndarray
    groups: np.ndarray
    feature_names: tuple[str, ...]
    categorical: tuple[int, ...]
    n_meta: int
    data_hash: str
    task_sizes: Mapping[str, float] = field(default_factory=dict)

    @property
    def n_tasks(self) -> int:
        """Distinct tasks in the table."""
        return len(np.unique(self.groups))


def build_training_table(
    records: Iterable[EvaluationRecord],
    features: Mapping[str, TaskFeatures],
    encoder: ConfigEncoder,
    *,
    normalisation: Normalisation = "rank",
) -> TrainingTable:
    """Turn a space's records and its tasks' meta-features into a training table.

    Records of tasks without usable meta-features are left out (see
    :func:`left_out_tasks`); averaging over seeds and fidelities is left to the
    model (each record is a row).

    Raises:
        FailedPreconditionError: Nothing usable (no task with features and two
            distinct scores).
    """
    by_task: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        found = features.get(record.task_id)
        if found is not None and not found.all_missing:
            by_task[record.task_id].append(record)
    names: tuple[str, ...] | None = None
    meta_rows: list[np.ndarray] = []
    task_sizes: dict[str, float] = {}
    configs: list[Mapping[str, object]] = []
    targets: list[float] = []
    fit: list[float] = []
    groups: list[str] = []
    digest = hashlib.sha256()
    for task_id in sorted(by_task):
        task_records = sorted(by_task[task_id], key=lambda r: (r.config_hash, r.seed, r.fidelity))
        ok = [r for r in task_records if r.status is RecordStatus.OK and r.score is not None]
        if len({r.score for r in ok}) < 2:
            continue
        task_features = features[task_id]
        if names is None:
            names = task_features.names
        elif task_features.names != names:
            raise FailedPreconditionError(
                f"task {task_id} has meta-features {task_features.version!r} with other names; "
                "use one feature version for the whole table"
            )
        normalised = dict(
            zip(
                (id(r) for r in ok),
                normalise_scores([float(r.score) for r in ok], normalisation),  # type: ignore[arg-type]
                strict=True,
            )
        )
        meta = np.asarray(task_features.values, dtype=float)
        source = size_source(names)
        for record in task_records:
            target = normalised.get(id(record), 0.0)
            if source is None:
                meta_rows.append(meta)
            else:
                size = log_rows(meta[source], record.fidelity)
                meta_rows.append(np.append(meta, size))
                if np.isfinite(size):
                    task_sizes[task_id] = max(task_sizes.get(task_id, size), size)
            configs.append(record.config)
            targets.append(float(target))
            fit.append(np.log1p(record.fit_seconds) if record.fit_seconds is not None else np.nan)
            groups.append(task_id)
            digest.update(
                f"{task_id}|{record.config_hash}|{record.seed}|{record.fidelity}|"
                f"{record.status.value}|{record.score!r}\n".encode()
            )
    if names is None or not targets:
        raise FailedPreconditionError(
            "no training data: the space needs records (with two distinct scores per task) "
            "on tasks whose meta-features are stored"
        )
    encoded = encoder.encode(configs)  # type: ignore[arg-type]
    meta_matrix = np.vstack(meta_rows)
    n_meta = meta_matrix.shape[1]
    return TrainingTable(
        X=np.hstack([meta_matrix, encoded]),
        y=np.asarray(targets),
        log_fit_seconds=np.asarray(fit),
        groups=np.asarray(groups),
        feature_names=(
            *names,
            *(() if size_source(names) is None else (SIZE_INPUT,)),
            *(f"cfg:{n}" for n in encoder.names),
        ),
        categorical=tuple(n_meta + i for i in encoder.categorical),
        n_meta=n_meta,
        data_hash=digest.hexdigest()[:16],
        task_sizes=task_sizes,
    )


def left_out_tasks(
    records: Iterable[EvaluationRecord], features: Mapping[str, TaskFeatures], version: str
) -> dict[str, str]:
    """The tasks with records that training leaves out, each with the reason.

    The rules are :func:`build_training_table`'s (and the evaluation's): a task
    needs meta-features of ``version``, not all missing, and two distinct
    successful scores.

    Returns:
        ``{task_id: reason}``, in task id order.
    """
    scores: dict[str, set[float]] = defaultdict(set)
    for record in records:
        seen = scores[record.task_id]  # every task with records, scored or not
        if record.status is RecordStatus.OK and record.score is not None:
            seen.add(float(record.score))
    out: dict[str, str] = {}
    for task_id in sorted(scores):
        found = features.get(task_id)
        if found is None:
            out[task_id] = f"no meta-features {version!r}"
        elif found.all_missing:
            out[task_id] = f"every meta-feature {version!r} is missing (null or NaN)"
        elif len(scores[task_id]) < 2:
            out[task_id] = "fewer than two distinct successful scores"
    return out
