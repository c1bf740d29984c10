"""Domain types shared by every part of warmstart.

These frozen dataclasses are what crosses boundaries: the store returns them,
the runner produces them, the service encodes them. They hold no SQL rows and
no protobuf messages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from warmstart.metamodel.errors import InvalidRequestError

__all__ = [
    "ConfigValue",
    "EvaluationRecord",
    "ModelVersion",
    "NeighbourTask",
    "Observation",
    "RecordSource",
    "RecordStatus",
    "SearchSpace",
    "Suggestion",
    "SuggestionOrigin",
    "Task",
    "TaskFeatures",
    "TaskType",
]

_E = TypeVar("_E", bound=StrEnum)

ConfigValue = int | float | str | bool
"""A hyperparameter value: always one of these four Python types."""


class TaskType(StrEnum):
    """What kind of prediction a task asks for."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class RecordStatus(StrEnum):
    """How an evaluation ended."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"


class RecordSource(StrEnum):
    """Who produced a record."""

    BENCHMARK = "benchmark"
    CLIENT = "client"
    IMPORT = "import"


def _frozen_mapping(value: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(value))


def _reduced(obj: Any) -> tuple[type, tuple[object, ...]]:
    """Pickle a frozen dataclass by its constructor arguments: a read-only mapping view
    cannot be pickled itself, so it travels as a dict and ``__post_init__`` freezes it."""
    values = (getattr(obj, f.name) for f in fields(obj))
    return type(obj), tuple(dict(v) if isinstance(v, MappingProxyType) else v for v in values)


@dataclass(frozen=True)
class Task:
    """A dataset with a prediction target, identified by its content.

    Attributes:
        task_id: Opaque stable key, derived from the task's content.
        name: Human-readable name, e.g. ``"pmlb/1027_ESL"``.
        task_type: Binary, multiclass or regression.
        source: Where it came from (``"pmlb"``, ``"sklearn"``, ``"synthetic"``,
            ``"openml"``, ``"client"``, ...).
        family: Group of near-duplicate tasks; evaluation splits by family.
        n_rows: Number of rows.
        n_features: Number of feature columns (target excluded).
        n_classes: Number of classes, ``None`` for regression.
        stats: Further basic statistics (missing share, categorical share...).
    """

    task_id: str
    name: str
    task_type: TaskType
    source: str
    n_rows: int
    n_features: int
    family: str | None = None
    n_classes: int | None = None
    stats: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.task_id:
            raise InvalidRequestError("task_id must be a non-empty string")
        if not self.name:
            raise InvalidRequestError(f"task {self.task_id!r}: name must be non-empty")
        object.__setattr__(self, "task_type", _coerce_enum(TaskType, self.task_type, "task_type"))
        if self.n_rows < 0 or self.n_features < 0:
            raise InvalidRequestError(
                f"task {self.name!r}: n_rows and n_features must be >= 0, "
                f"got n_rows={self.n_rows}, n_features={self.n_features}"
            )
        if self.task_type is TaskType.REGRESSION and self.n_classes is not None:
            raise InvalidRequestError(
                f"task {self.name!r}: a regression task has no n_classes, got {self.n_classes}"
            )
        if self.task_type is not TaskType.REGRESSION and self.n_classes is not None:
            lowest = 2 if self.task_type is TaskType.BINARY else 3
            if self.n_classes < lowest or (
                self.task_type is TaskType.BINARY and self.n_classes != 2
            ):
                raise InvalidRequestError(
                    f"task {self.name!r}: a {self.task_type.value} task needs "
                    f"{'exactly 2' if lowest == 2 else 'at least 3'} classes, got {self.n_classes}"
                )
        object.__setattr__(self, "stats", _frozen_mapping(self.stats))

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return _reduced(self)


@dataclass(frozen=True)
class TaskFeatures:
    """Meta-features of one task under one version of the feature set."""

    task_id: str
    version: str
    names: tuple[str, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.values):
            raise InvalidRequestError(
                f"task features for {self.task_id!r}: {len(self.names)} names "
                f"but {len(self.values)} values"
            )
        if len(set(self.names)) != len(self.names):
            raise InvalidRequestError(
                f"task features for {self.task_id!r}: feature names must be unique"
            )

    def as_dict(self) -> dict[str, float]:
        """Return the features as ``{name: value}`` in their fixed order."""
        return dict(zip(self.names, self.values, strict=True))

    @property
    def all_missing(self) -> bool:
        """Whether every value is missing (NaN): such features describe nothing."""
        return all(math.isnan(v) for v in self.values)


@dataclass(frozen=True)
class SearchSpace:
    """A learner's search space, versioned by the hash of its content.

    Attributes:
        space_id: Content hash of the canonical ConfigSpace JSON (opaque key).
        name: The learner's space name for people, e.g. ``"lightgbm"``.
        definition: Canonical ConfigSpace JSON text.
    """

    space_id: str
    name: str
    definition: str


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation of one config on one task.

    ``score`` is the task type's primary score (higher is better) and is
    ``None`` unless the evaluation succeeded. Non-finite metric values are
    kept as NaN.
    """

    task_id: str
    space_id: str
    config: Mapping[str, ConfigValue]
    config_hash: str
    score: float | None
    status: RecordStatus = RecordStatus.OK
    seed: int = 0
    fidelity: float = 1.0
    metrics: Mapping[str, float] = field(default_factory=dict)
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    peak_memory_mb: float | None = None
    error: str | None = None
    source: RecordSource = RecordSource.BENCHMARK
    external_id: str | None = None
    created_at: datetime | None = None
    record_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", _coerce_enum(RecordStatus, self.status, "status"))
        object.__setattr__(self, "source", _coerce_enum(RecordSource, self.source, "source"))
        object.__setattr__(self, "config", _frozen_mapping(self.config))
        object.__setattr__(self, "metrics", _frozen_mapping(self.metrics))

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return _reduced(self)

    @property
    def key(self) -> tuple[str, str, str, int, float]:
        """The natural key a record is unique on."""
        return (self.task_id, self.space_id, self.config_hash, self.seed, self.fidelity)

    def problems(self) -> list[str]:
        """Return every reason this record is invalid (empty when valid)."""
        out: list[str] = []
        if not self.task_id:
            out.append("task_id is empty")
        if not self.space_id:
            out.append("space_id is empty")
        if not self.config_hash:
            out.append("config_hash is empty")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            out.append(f"seed must be an integer, got {self.seed!r}")
        elif not -(2**63) <= self.seed < 2**63:
            out.append(f"seed must fit in 64 bits, got {self.seed}")
        if not _is_number(self.fidelity) or not 0.0 < self.fidelity <= 1e9:
            out.append(f"fidelity must be a finite number > 0, got {self.fidelity!r}")
        if self.status is RecordStatus.OK:
            if self.score is None or not _is_number(self.score) or not math.isfinite(self.score):
                out.append(f"status 'ok' needs a finite score, got {self.score!r}")
        elif self.score is not None:
            out.append(f"status {self.status.value!r} must not carry a score, got {self.score!r}")
        for name in ("fit_seconds", "predict_seconds", "peak_memory_mb"):
            value = getattr(self, name)
            if value is not None and (
                not _is_number(value) or not math.isfinite(value) or value < 0
            ):
                out.append(f"{name} must be a finite number >= 0 or empty, got {value!r}")
        for key, value in self.metrics.items():
            if not isinstance(key, str) or not key:
                out.append(f"metric names must be non-empty strings, got {key!r}")
            elif not _is_number(value):
                out.append(f"metric {key!r} must be a number, got {value!r}")
        for key, value in self.config.items():
            if not isinstance(value, (int, float, str, bool)):
                out.append(
                    f"config value {key!r} must be int, float, str or bool, "
                    f"got {type(value).__name__}"
                )
        return out


@dataclass(frozen=True)
class ModelVersion:
    """A trained model bundle known to the store."""

    version: str
    space_name: str
    path: str
    bundle_hash: str
    created_at: datetime | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    serving: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", _frozen_mapping(self.metrics))

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return _reduced(self)


class SuggestionOrigin(StrEnum):
    """Where a suggested config came from."""

    PORTFOLIO = "portfolio"
    NEIGHBOUR = "neighbour"
    MODEL = "model"
    REFINEMENT = "refinement"
    DEFAULT = "default"


@dataclass(frozen=True)
class NeighbourTask:
    """A training task close to the one asked about, in meta-feature space."""

    task_id: str
    name: str
    distance: float


@dataclass(frozen=True)
class Suggestion:
    """One suggested config with what the model expects of it.

    ``predicted_score`` is the normalised score (1 = the best config seen on a
    task), ``uncertainty`` its standard deviation over the ensemble.
    """

    config: Mapping[str, ConfigValue]
    predicted_score: float
    uncertainty: float
    predicted_fit_seconds: float
    origin: SuggestionOrigin
    nearest_tasks: tuple[NeighbourTask, ...] = ()


@dataclass(frozen=True)
class Observation:
    """A config already evaluated on the task a request is about, with its score.

    ``score`` is on the task's own scale, higher is better (as records store it);
    only the order of a task's observations matters to the recommender.
    """

    config: Mapping[str, ConfigValue]
    score: float


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce_enum(kind: type[_E], value: object, what: str) -> _E:
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise InvalidRequestError(f"{what} must be one of {allowed}, got {value!r}") from None
