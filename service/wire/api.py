"""The API's requests and answers as frozen dataclasses: what the servicer decodes
protobuf into, what the operations take and return, and what the Python client hands back.

No protobuf here: :mod:`warmstart.service.wire.convert` maps these to and from the wire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from warmstart.metamodel.types import (
    ConfigValue,
    Observation,
    RecordStatus,
    SearchSpace,
    Suggestion,
    TaskFeatures,
    TaskType,
)

__all__ = [
    "DescribeUpload",
    "ModelSummary",
    "ReloadOutcome",
    "ReportSummary",
    "ReportedResult",
    "SpaceInfo",
    "SuggestAnswer",
    "SuggestRequest",
    "TableFormat",
    "TaskDescription",
]


def _frozen(value: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class SuggestRequest:
    """Ask for ``k`` configs of a space for one task.

    The task is given either as meta-features (``features`` with their
    ``feature_version``, which must equal the served model's) or as the id of a
    task whose meta-features are stored. A meta-feature left out is treated as
    undefined (NaN), like a NaN value; an infinite value or an unknown name is refused.

    What was observed on the task steers the answer: with ``task_id``, the task's
    stored successful results in the space, and the ``observations`` given here (for
    clients that do not report). No observed config is suggested again; with none
    the answer is the zero-shot one.

    Attributes:
        space: Space name (``"lightgbm"``) or space id.
        k: How many configs, 1 to :data:`warmstart.metamodel.recommend.MAX_K`.
        features: ``{name: value}`` meta-features, or ``None`` with ``task_id``.
        feature_version: The version ``features`` were computed with.
        task_id: A known task, or ``None`` with ``features``.
        max_fit_seconds: Leave out configs predicted to fit slower than this.
        exclude: Configs already tried; each must be valid in the space.
        train_rows: Rows the configs will be trained on (``None``: the table's rows).
        observations: Configs evaluated on the task with their scores (higher is better).
    """

    space: str
    k: int
    features: Mapping[str, float] | None = None
    feature_version: str = ""
    task_id: str | None = None
    max_fit_seconds: float | None = None
    exclude: tuple[Mapping[str, ConfigValue], ...] = ()
    train_rows: int | None = None
    observations: tuple[Observation, ...] = ()


@dataclass(frozen=True)
class SuggestAnswer:
    """The configs suggested for one request, best set first; ``observations`` says how
    many observations of the task (stored and given) the answer used."""

    suggestions: tuple[Suggestion, ...]
    model_version: str
    out_of_distribution: bool
    space_id: str
    observations: int = 0


@dataclass(frozen=True)
class ReportedResult:
    """One observed evaluation, reported by a client under its own unique ``result_id``.

    ``status`` ``None`` means the client left it unspecified (refused by the server).
    ``score`` is set exactly when the status is OK; ``fidelity`` ``None`` means 1.0.
    """

    result_id: str
    task_id: str
    space: str
    config: Mapping[str, ConfigValue]
    status: RecordStatus | None = RecordStatus.OK
    score: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    fit_seconds: float | None = None
    seed: int = 0
    fidelity: float | None = None
    error: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", _frozen(self.config))
        object.__setattr__(self, "metrics", _frozen(self.metrics))


@dataclass(frozen=True)
class ReportSummary:
    """What a report did.

    Attributes:
        stored: New results stored.
        already: Ids reported before with the same payload (nothing changed).
        duplicate_ids: New ids whose evaluation (task, space, config, seed, fidelity)
            is stored already, under another id or from a benchmark: not stored.
            Repeats of an evaluation need different seeds.

    An id reported before with another payload is refused (ALREADY_EXISTS).
    """

    stored: int
    already: int
    duplicate_ids: tuple[str, ...] = ()

    @property
    def duplicates(self) -> int:
        """How many results were duplicates (:attr:`duplicate_ids`)."""
        return len(self.duplicate_ids)


class TableFormat(StrEnum):
    """The table formats DescribeTask reads."""

    ARROW_IPC = "arrow_ipc"
    CSV = "csv"


@dataclass(frozen=True)
class DescribeUpload:
    """A whole dataset sent to DescribeTask, its chunks joined."""

    format: TableFormat
    target: str
    task_type: TaskType | None
    data: bytes | memoryview
    name: str = ""
    """The task's name if it is stored (empty: ``client/<task_id>``)."""
    probe_space: str = ""
    """A space whose model's probes to run on the data (empty: none)."""


@dataclass(frozen=True)
class TaskDescription:
    """Meta-features of an uploaded dataset and what it was taken to be.

    ``task_id`` is the stored task's id when the call had a write token (else empty),
    and ``created`` whether that call stored it.
    """

    features: TaskFeatures
    task_type: TaskType
    n_rows: int
    n_features: int
    task_id: str = ""
    created: bool = False

    def as_dict(self) -> dict[str, float]:
        """The meta-features as ``{name: value}`` (NaN where undefined)."""
        return self.features.as_dict()


@dataclass(frozen=True)
class SpaceInfo:
    """A search space as the service lists it, with its default config."""

    space_id: str
    name: str
    definition: str
    default_config: Mapping[str, ConfigValue]

    def __post_init__(self) -> None:
        object.__setattr__(self, "default_config", _frozen(self.default_config))

    @property
    def search_space(self) -> SearchSpace:
        """The domain :class:`~warmstart.metamodel.types.SearchSpace`."""
        return SearchSpace(self.space_id, self.name, self.definition)


@dataclass(frozen=True)
class ModelSummary:
    """What the served model (or models, one per space) is.

    With several spaces served and none asked for, versions, feature versions
    and data hashes are joined with ``","`` (in space-name order) and metrics
    are keyed ``"<space>/<metric>"``.
    """

    model_version: str
    feature_version: str
    feature_names: tuple[str, ...]
    spaces: tuple[SpaceInfo, ...]
    metrics: Mapping[str, float]
    created_at: datetime | None
    training_data_hash: str
    max_k: int
    probes: tuple[tuple[str, Mapping[str, ConfigValue]], ...] = ()
    """The configs (hash, config) whose probe scores the model reads; with several
    models, only where one is asked for."""

    def __post_init__(self) -> None:
        clean = {k: (v if math.isfinite(v) else math.nan) for k, v in self.metrics.items()}
        object.__setattr__(self, "metrics", _frozen(clean))


@dataclass(frozen=True)
class ReloadOutcome:
    """The model versions served after and before a reload (joined with ``","``)."""

    model_version: str
    previous_version: str
