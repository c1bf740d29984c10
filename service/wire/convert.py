"""Protobuf messages of ``warmstart.v1`` to and from the API's dataclasses.

Decoding checks only what the wire format cannot: a parameter value with no
type set, a meta-feature named twice, an unspecified enum, and every string and
count against the limits of :mod:`~warmstart.service.wire.limits` (no NUL, bounded length).
Everything that needs a space or a model is checked by the operations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

import numpy as np

from warmstart.metamodel.errors import InvalidRequestError, shown
from warmstart.metamodel.types import (
    ConfigValue,
    NeighbourTask,
    Observation,
    RecordStatus,
    Suggestion,
    SuggestionOrigin,
    TaskFeatures,
    TaskType,
)
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.service.wire import _fragments
from warmstart.service.wire.api import (
    DescribeUpload,
    ModelSummary,
    ReloadOutcome,
    ReportedResult,
    ReportSummary,
    SpaceInfo,
    SuggestAnswer,
    SuggestRequest,
    TableFormat,
    TaskDescription,
)
from warmstart.service.wire.limits import (
    MAX_ERROR_CHARS,
    MAX_EXCLUDE,
    MAX_FEATURES,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_OBSERVATIONS,
    MAX_VALUE_CHARS,
    text,
)

__all__ = [
    "ChunkHeader",
    "check_suggest_counts",
    "chunk_header",
    "config_from_proto",
    "config_to_proto",
    "description_from_proto",
    "description_to_proto",
    "model_summary_from_proto",
    "model_summary_to_proto",
    "reload_from_proto",
    "reload_to_proto",
    "report_request_to_proto",
    "report_summary_from_proto",
    "report_summary_to_proto",
    "results_from_proto",
    "space_from_proto",
    "space_to_proto",
    "suggest_answer_from_proto",
    "suggest_answer_to_bytes",
    "suggest_answer_to_proto",
    "suggest_request_from_proto",
    "suggest_request_to_proto",
    "upload_to_chunks",
    "value_from_proto",
    "value_to_proto",
]

_ORIGINS = {
    SuggestionOrigin.PORTFOLIO: pb.ORIGIN_PORTFOLIO,
    SuggestionOrigin.MODEL: pb.ORIGIN_MODEL,
    SuggestionOrigin.REFINEMENT: pb.ORIGIN_REFINEMENT,
    SuggestionOrigin.DEFAULT: pb.ORIGIN_DEFAULT,
    SuggestionOrigin.NEIGHBOUR: pb.ORIGIN_NEIGHBOUR,
}
_ORIGINS_BACK = {v: k for k, v in _ORIGINS.items()}
_STATUSES = {
    RecordStatus.OK: pb.RESULT_STATUS_OK,
    RecordStatus.FAILED: pb.RESULT_STATUS_FAILED,
    RecordStatus.TIMEOUT: pb.RESULT_STATUS_TIMEOUT,
}
_STATUSES_BACK = {v: k for k, v in _STATUSES.items()}
_FORMATS = {
    pb.DescribeTaskChunk.FORMAT_ARROW_IPC: TableFormat.ARROW_IPC,
    pb.DescribeTaskChunk.FORMAT_CSV: TableFormat.CSV,
}
_FORMATS_BACK = {v: k for k, v in _FORMATS.items()}


# -- values and configs ------------------------------------------------------------------------


def value_to_proto(name: str, value: object) -> pb.ParameterValue:
    """Encode one parameter value in its own type (bool before int: bool is an int in Python).

    Raises:
        InvalidRequestError: The value is not a bool, integer, float or str.
    """
    if isinstance(value, (bool, np.bool_)):
        return pb.ParameterValue(bool_value=bool(value))
    if isinstance(value, (int, np.integer)):
        return pb.ParameterValue(int_value=int(value))
    if isinstance(value, (float, np.floating)):
        return pb.ParameterValue(double_value=float(value))
    if isinstance(value, str):
        return pb.ParameterValue(string_value=value)
    raise InvalidRequestError(
        f"parameter {shown(name)} must be a bool, int, float or str, got {type(value).__name__}"
    )


def value_from_proto(name: str, value: pb.ParameterValue) -> ConfigValue:
    """Decode one parameter value into ``int``, ``float``, ``str`` or ``bool``.

    Raises:
        InvalidRequestError: No value type is set.
    """
    kind = value.WhichOneof("kind")
    if kind == "int_value":
        return int(value.int_value)
    if kind == "double_value":
        return float(value.double_value)
    if kind == "string_value":
        return text(value.string_value, f"parameter {shown(name)}", MAX_VALUE_CHARS)
    if kind == "bool_value":
        return bool(value.bool_value)
    raise InvalidRequestError(
        f"parameter {shown(name)} has no value: set one of int_value, double_value, string_value, "
        "bool_value"
    )


def config_to_proto(config: Mapping[str, object]) -> pb.Config:
    """Encode a config (only its active parameters are expected)."""
    return pb.Config(parameters={k: value_to_proto(k, v) for k, v in config.items()})


def config_from_proto(config: pb.Config, where: str) -> dict[str, ConfigValue]:
    """Decode a config; ``where`` prefixes any error (``"exclude[2]"``).

    Raises:
        InvalidRequestError: A parameter has no value, an empty name, or a name or
            string value that is too long or holds a NUL.
    """
    out: dict[str, ConfigValue] = {}
    for name in sorted(config.parameters):
        if not name:
            raise InvalidRequestError(f"{where}: a parameter has an empty name")
        try:
            text(name, "a parameter name")
            out[name] = value_from_proto(name, config.parameters[name])
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"{where}: {exc}") from None
    return out


# -- SuggestConfigs ----------------------------------------------------------------------------


def suggest_request_from_proto(request: pb.SuggestConfigsRequest) -> SuggestRequest:
    """Decode a SuggestConfigs request.

    Raises:
        InvalidRequestError: More excluded configs or meta-features than allowed, no
            task given, a meta-feature named twice or unnamed, a string too long or
            holding a NUL, or an undecodable excluded config.
    """
    check_suggest_counts(request)
    which = request.WhichOneof("task")
    features: dict[str, float] | None = None
    version = ""
    task_id: str | None = None
    if which == "features":
        pairs = [(feature.name, feature.value) for feature in request.features.features]
        features = dict(pairs)
        if len(features) != len(pairs) or "" in features:
            _check_feature_names([name for name, _ in pairs])
        if "\x00" in "".join(features) or max(map(len, features), default=0) > MAX_NAME_CHARS:
            for name in features:
                text(name, "a meta-feature name")
        version = text(request.features.feature_version, "feature_version")
    elif which == "task_id":
        task_id = text(request.task_id, "task_id")
        if not task_id:
            raise InvalidRequestError("task_id is empty: give a known task id or meta-features")
    else:
        raise InvalidRequestError(
            "no task given: set either features (meta-features with their feature_version) "
            "or task_id (a task the service knows)"
        )
    max_fit = (
        float(request.constraints.max_fit_seconds)
        if request.HasField("constraints") and request.constraints.HasField("max_fit_seconds")
        else None
    )
    return SuggestRequest(
        space=text(request.space, "space"),
        k=int(request.k),
        features=features,
        feature_version=version,
        task_id=task_id,
        max_fit_seconds=max_fit,
        exclude=tuple(config_from_proto(c, f"exclude[{i}]") for i, c in enumerate(request.exclude)),
        train_rows=_train_rows(request.train_rows),
        observations=tuple(
            Observation(config_from_proto(o.config, f"observations[{i}]"), float(o.score))
            for i, o in enumerate(request.observations)
        ),
    )


def _train_rows(value: int) -> int | None:
    """A request's ``train_rows``: 0 (unset) is the table's rows.

    Raises:
        InvalidRequestError: A negative count.
    """
    if value < 0:
        raise InvalidRequestError(f"train_rows must be >= 1 (0: the table's rows), got {value}")
    return int(value) or None


def check_suggest_counts(request: pb.SuggestConfigsRequest) -> None:
    """Refuse a SuggestConfigs request with more excluded configs, observations or
    meta-features than allowed, before any of them is read.

    Raises:
        InvalidRequestError: Too many of any.
    """
    if len(request.observations) > MAX_OBSERVATIONS:
        raise InvalidRequestError(
            f"observations holds {len(request.observations)} results; at most "
            f"{MAX_OBSERVATIONS} are allowed: report them (ReportResults) and give the task_id"
        )
    if len(request.exclude) > MAX_EXCLUDE:
        raise InvalidRequestError(
            f"exclude holds {len(request.exclude)} configs; at most {MAX_EXCLUDE} are "
            "allowed: exclude the most recent ones"
        )
    if request.WhichOneof("task") == "features" and len(request.features.features) > MAX_FEATURES:
        raise InvalidRequestError(
            f"{len(request.features.features)} meta-features given; at most {MAX_FEATURES} "
            "are allowed (GetModelInfo lists the model's)"
        )


def _check_feature_names(names: list[str]) -> None:
    """Raise for the first empty or repeated meta-feature name.

    Raises:
        InvalidRequestError: Always, when a name is empty or repeated.
    """
    seen: set[str] = set()
    for name in names:
        if not name:
            raise InvalidRequestError("a meta-feature has an empty name")
        if name in seen:
            raise InvalidRequestError(f"meta-feature {shown(name)} is given twice")
        seen.add(name)


def suggest_request_to_proto(request: SuggestRequest) -> pb.SuggestConfigsRequest:
    """Encode a SuggestConfigs request (the client's side)."""
    message = pb.SuggestConfigsRequest(space=request.space, k=request.k)
    if request.task_id is not None:
        message.task_id = request.task_id
    elif request.features is not None:
        message.features.feature_version = request.feature_version
        message.features.features.extend(
            pb.MetaFeature(name=k, value=float(v)) for k, v in request.features.items()
        )
    if request.max_fit_seconds is not None:
        message.constraints.max_fit_seconds = request.max_fit_seconds
    message.exclude.extend(config_to_proto(c) for c in request.exclude)
    if request.train_rows is not None:
        message.train_rows = request.train_rows
    message.observations.extend(
        pb.Observation(config=config_to_proto(o.config), score=float(o.score))
        for o in request.observations
    )
    return message


_config_fields = _fragments.FragmentCache(config_to_proto)


def suggest_answer_to_proto(answer: SuggestAnswer) -> pb.SuggestConfigsResponse:
    """Encode the suggestions of one request."""
    return pb.SuggestConfigsResponse.FromString(suggest_answer_to_bytes(answer))


def suggest_answer_to_bytes(answer: SuggestAnswer) -> bytes:
    """The serialized ``SuggestConfigsResponse`` of one request, assembled from serialized
    fragments (see ``_fragments``): what the server sends, with no message built."""
    parts = [
        pb.SuggestConfigsResponse(
            model_version=answer.model_version,
            out_of_distribution=answer.out_of_distribution,
            space_id=answer.space_id,
            observations=answer.observations,
        ).SerializeToString()
    ]
    # By identity: the suggestions of one answer usually share one tuple of neighbours.
    neighbours: dict[int, bytes] = {}
    for suggestion in answer.suggestions:
        near = neighbours.get(id(suggestion.nearest_tasks))
        if near is None:
            near = _fragments.neighbours_field(suggestion.nearest_tasks)
            neighbours[id(suggestion.nearest_tasks)] = near
        parts.append(
            _fragments.suggestion_bytes(
                _config_fields.config_field(suggestion.config),
                suggestion.predicted_score,
                suggestion.uncertainty,
                suggestion.predicted_fit_seconds,
                _ORIGINS.get(suggestion.origin, pb.ORIGIN_UNSPECIFIED),
                near,
            )
        )
    return b"".join(parts)


def suggest_answer_from_proto(message: pb.SuggestConfigsResponse) -> SuggestAnswer:
    """Decode a SuggestConfigs response (the client's side)."""
    suggestions = tuple(
        Suggestion(
            config=config_from_proto(s.config, f"suggestions[{i}]"),
            predicted_score=s.predicted_score,
            uncertainty=s.uncertainty,
            predicted_fit_seconds=s.predicted_fit_seconds,
            origin=_ORIGINS_BACK.get(s.origin, SuggestionOrigin.MODEL),
            nearest_tasks=tuple(
                NeighbourTask(n.task_id, n.name, n.distance) for n in s.nearest_tasks
            ),
        )
        for i, s in enumerate(message.suggestions)
    )
    return SuggestAnswer(
        suggestions,
        message.model_version,
        message.out_of_distribution,
        message.space_id,
        int(message.observations),
    )


# -- ReportResults -----------------------------------------------------------------------------


def _result_from_proto(index: int, result: pb.Result) -> ReportedResult:
    where = f"results[{index}]"
    return ReportedResult(
        result_id=text(result.id, f"{where}.id", MAX_ID_CHARS),
        task_id=text(result.task_id, f"{where}.task_id"),
        space=text(result.space, f"{where}.space"),
        config=config_from_proto(result.config, where),
        status=_STATUSES_BACK.get(result.status),
        score=float(result.score) if result.HasField("score") else None,
        metrics={text(k, f"{where}: a metric name"): float(v) for k, v in result.metrics.items()},
        fit_seconds=float(result.fit_seconds) if result.HasField("fit_seconds") else None,
        seed=int(result.seed),
        fidelity=float(result.fidelity) if result.HasField("fidelity") else None,
        error=text(result.error, f"{where}.error", MAX_ERROR_CHARS),
    )


def results_from_proto(request: pb.ReportResultsRequest) -> list[ReportedResult]:
    """Decode a ReportResults batch.

    Raises:
        InvalidRequestError: A config value has no type set, or a string is too long
            or holds a NUL.
    """
    return [_result_from_proto(i, r) for i, r in enumerate(request.results)]


def _result_to_proto(result: ReportedResult) -> pb.Result:
    message = pb.Result(
        id=result.result_id,
        task_id=result.task_id,
        space=result.space,
        config=config_to_proto(result.config),
        status=_STATUSES[result.status] if result.status else pb.RESULT_STATUS_UNSPECIFIED,
        metrics=dict(result.metrics),
        seed=result.seed,
        error=result.error,
    )
    if result.score is not None:
        message.score = result.score
    if result.fit_seconds is not None:
        message.fit_seconds = result.fit_seconds
    if result.fidelity is not None:
        message.fidelity = result.fidelity
    return message


def report_request_to_proto(results: Iterable[ReportedResult]) -> pb.ReportResultsRequest:
    """Encode a batch of results (the client's side)."""
    return pb.ReportResultsRequest(results=[_result_to_proto(r) for r in results])


def report_summary_to_proto(summary: ReportSummary) -> pb.ReportResultsResponse:
    """Encode what a report stored."""
    return pb.ReportResultsResponse(
        stored=summary.stored,
        already=summary.already,
        duplicates=summary.duplicates,
        duplicate_ids=list(summary.duplicate_ids),
    )


def report_summary_from_proto(message: pb.ReportResultsResponse) -> ReportSummary:
    """Decode what a report stored (the client's side)."""
    return ReportSummary(
        stored=message.stored,
        already=message.already,
        duplicate_ids=tuple(message.duplicate_ids),
    )


# -- DescribeTask ------------------------------------------------------------------------------


class ChunkHeader(Protocol):
    """What a DescribeTask chunk says about its data: a ``DescribeTaskChunk`` message,
    or the server's own decoding of one."""

    @property
    def format(self) -> int:
        """The table format's number (0: unset)."""

    @property
    def target(self) -> str:
        """The target column's name (empty: unset)."""

    @property
    def task_type(self) -> str:
        """The task type's name (empty: inferred)."""


def chunk_header(
    chunk: ChunkHeader,
) -> tuple[TableFormat | None, str, TaskType | None]:
    """Decode what a DescribeTask chunk says about the data: format, target, task type.

    Unset fields come back as ``None`` / ``""`` (later chunks carry data only).

    Raises:
        InvalidRequestError: An unknown format number or task type, or a target name
            that is too long or holds a NUL.
    """
    table_format: TableFormat | None = None
    if chunk.format != pb.DescribeTaskChunk.FORMAT_UNSPECIFIED:
        table_format = _FORMATS.get(pb.DescribeTaskChunk.Format.ValueType(chunk.format))
        if table_format is None:
            raise InvalidRequestError(
                f"unknown format {chunk.format}; use FORMAT_ARROW_IPC or FORMAT_CSV"
            )
    task_type: TaskType | None = None
    if chunk.task_type:
        try:
            task_type = TaskType(chunk.task_type)
        except ValueError:
            raise InvalidRequestError(
                f"task_type must be 'binary', 'multiclass', 'regression' or empty (inferred), "
                f"got {shown(chunk.task_type)}"
            ) from None
    return table_format, text(chunk.target, "target"), task_type


def upload_to_chunks(upload: DescribeUpload, chunk_bytes: int) -> list[pb.DescribeTaskChunk]:
    """Split a dataset into DescribeTask chunks (the client's side); the first names the data."""
    data = bytes(upload.data)  # the same object when it is bytes already
    pieces = [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] or [b""]
    first = pb.DescribeTaskChunk(
        format=_FORMATS_BACK[upload.format],
        target=upload.target,
        task_type=upload.task_type.value if upload.task_type else "",
        data=pieces[0],
        name=upload.name,
        probe_space=upload.probe_space,
    )
    return [first, *(pb.DescribeTaskChunk(data=p) for p in pieces[1:])]


def description_to_proto(description: TaskDescription) -> pb.DescribeTaskResponse:
    """Encode the meta-features of an uploaded dataset."""
    features = description.features
    return pb.DescribeTaskResponse(
        features=pb.TaskFeatures(
            feature_version=features.version,
            features=[
                pb.MetaFeature(name=n, value=v)
                for n, v in zip(features.names, features.values, strict=True)
            ],
        ),
        task_type=description.task_type.value,
        n_rows=description.n_rows,
        n_features=description.n_features,
        task_id=description.task_id,
        created=description.created,
    )


def description_from_proto(message: pb.DescribeTaskResponse) -> TaskDescription:
    """Decode a DescribeTask response (the client's side)."""
    features = TaskFeatures(
        task_id="",
        version=message.features.feature_version,
        names=tuple(f.name for f in message.features.features),
        values=tuple(float(f.value) for f in message.features.features),
    )
    return TaskDescription(
        features,
        TaskType(message.task_type),
        int(message.n_rows),
        int(message.n_features),
        message.task_id,
        message.created,
    )


# -- spaces, model info, reload ----------------------------------------------------------------


def space_to_proto(space: SpaceInfo) -> pb.SearchSpace:
    """Encode a search space with its default config."""
    return pb.SearchSpace(
        space_id=space.space_id,
        name=space.name,
        definition=space.definition,
        default_config=config_to_proto(space.default_config),
    )


def space_from_proto(message: pb.SearchSpace) -> SpaceInfo:
    """Decode a search space (the client's side)."""
    return SpaceInfo(
        message.space_id,
        message.name,
        message.definition,
        config_from_proto(message.default_config, f"space {message.name!r} default"),
    )


def model_summary_to_proto(summary: ModelSummary) -> pb.ModelInfo:
    """Encode what the served model is."""
    return pb.ModelInfo(
        model_version=summary.model_version,
        feature_version=summary.feature_version,
        feature_names=list(summary.feature_names),
        spaces=[space_to_proto(s) for s in summary.spaces],
        metrics={k: v for k, v in summary.metrics.items() if math.isfinite(v)},
        created_at=summary.created_at.isoformat() if summary.created_at else "",
        training_data_hash=summary.training_data_hash,
        max_k=summary.max_k,
        probes=[
            pb.Probe(config_hash=digest, config=config_to_proto(config))
            for digest, config in summary.probes
        ],
    )


def model_summary_from_proto(message: pb.ModelInfo) -> ModelSummary:
    """Decode a ModelInfo (the client's side)."""
    return ModelSummary(
        model_version=message.model_version,
        feature_version=message.feature_version,
        feature_names=tuple(message.feature_names),
        spaces=tuple(space_from_proto(s) for s in message.spaces),
        metrics=dict(message.metrics),
        created_at=datetime.fromisoformat(message.created_at) if message.created_at else None,
        training_data_hash=message.training_data_hash,
        max_k=message.max_k,
        probes=tuple(
            (p.config_hash, config_from_proto(p.config, f"probe {p.config_hash!r}"))
            for p in message.probes
        ),
    )


def reload_to_proto(outcome: ReloadOutcome) -> pb.ReloadModelResponse:
    """Encode the versions a reload swapped."""
    return pb.ReloadModelResponse(
        model_version=outcome.model_version, previous_version=outcome.previous_version
    )


def reload_from_proto(message: pb.ReloadModelResponse) -> ReloadOutcome:
    """Decode a reload's versions (the client's side)."""
    return ReloadOutcome(message.model_version, message.previous_version)
