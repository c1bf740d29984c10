"""The task RPCs' requests and answers (RegisterTask, ListTasks, GetTask) as frozen
dataclasses, and their protobuf form.

Tasks themselves are :class:`~warmstart.metamodel.types.Task`; on the wire a task
carries its id, name, type, rows, columns and source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from warmstart.metamodel.errors import InvalidRequestError, shown
from warmstart.metamodel.types import Task, TaskFeatures, TaskType
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.service.wire.limits import MAX_FEATURES, MAX_TASK_NAME_CHARS, text

__all__ = [
    "RegisteredTask",
    "SpaceResults",
    "TaskDetail",
    "TaskListing",
    "TaskRegistration",
    "features_from_proto",
    "features_to_proto",
    "registered_from_proto",
    "registered_to_proto",
    "registration_from_proto",
    "registration_to_proto",
    "task_detail_from_proto",
    "task_detail_to_proto",
    "task_from_proto",
    "task_listing_from_proto",
    "task_listing_to_proto",
    "task_to_proto",
    "task_type_from_text",
]


@dataclass(frozen=True)
class TaskRegistration:
    """A task whose meta-features the client computed, to be stored.

    ``task_type`` ``None`` means the client left it unspecified (refused). A
    meta-feature left out is stored as undefined (NaN).
    """

    name: str
    task_type: TaskType | None
    n_rows: int
    n_features: int
    feature_version: str
    features: Mapping[str, float]


@dataclass(frozen=True)
class RegisteredTask:
    """A stored task and whether this call stored it (``created``) or found it stored."""

    task: Task
    created: bool


@dataclass(frozen=True)
class TaskListing:
    """One page of tasks; ``next_page_token`` is empty on the last page."""

    tasks: tuple[Task, ...]
    next_page_token: str


@dataclass(frozen=True)
class SpaceResults:
    """How many results a task has in one space version."""

    space_id: str
    space_name: str
    results: int


@dataclass(frozen=True)
class TaskDetail:
    """A task, its stored meta-features (one set per version) and its results per space."""

    task: Task
    features: tuple[TaskFeatures, ...]
    results: tuple[SpaceResults, ...]


def task_type_from_text(value: str, where: str = "task_type") -> TaskType | None:
    """A task type from its name; ``None`` for an empty one.

    Raises:
        InvalidRequestError: Not binary, multiclass or regression.
    """
    if not value:
        return None
    try:
        return TaskType(value)
    except ValueError:
        raise InvalidRequestError(
            f"{where} must be 'binary', 'multiclass' or 'regression', got {shown(value)}"
        ) from None


def task_to_proto(task: Task) -> pb.TaskInfo:
    """Encode a task as the service lists it."""
    return pb.TaskInfo(
        task_id=task.task_id,
        name=task.name,
        task_type=task.task_type.value,
        n_rows=task.n_rows,
        n_features=task.n_features,
        source=task.source,
    )


def task_from_proto(message: pb.TaskInfo) -> Task:
    """Decode a listed task (the client's side)."""
    return Task(
        message.task_id,
        message.name,
        TaskType(message.task_type),
        message.source,
        n_rows=int(message.n_rows),
        n_features=int(message.n_features),
    )


def features_to_proto(features: TaskFeatures) -> pb.TaskFeatures:
    """Encode meta-features with their version."""
    return pb.TaskFeatures(
        feature_version=features.version,
        features=[
            pb.MetaFeature(name=n, value=v)
            for n, v in zip(features.names, features.values, strict=True)
        ],
    )


def features_from_proto(message: pb.TaskFeatures, task_id: str = "") -> TaskFeatures:
    """Decode meta-features (the client's side)."""
    return TaskFeatures(
        task_id,
        message.feature_version,
        tuple(f.name for f in message.features),
        tuple(float(f.value) for f in message.features),
    )


def registration_from_proto(request: pb.RegisterTaskRequest) -> TaskRegistration:
    """Decode a RegisterTask request.

    Raises:
        InvalidRequestError: An unknown task type, more meta-features than allowed, a
            meta-feature unnamed or named twice, or a string too long or holding a NUL.
    """
    given = request.features.features
    if len(given) > MAX_FEATURES:
        raise InvalidRequestError(
            f"{len(given)} meta-features given; at most {MAX_FEATURES} are allowed"
        )
    features: dict[str, float] = {}
    for feature in given:
        name = text(feature.name, "a meta-feature name")
        if not name:
            raise InvalidRequestError("a meta-feature has an empty name")
        if name in features:
            raise InvalidRequestError(f"meta-feature {shown(name)} is given twice")
        features[name] = float(feature.value)
    return TaskRegistration(
        name=text(request.name, "name", MAX_TASK_NAME_CHARS),
        task_type=task_type_from_text(request.task_type),
        n_rows=int(request.n_rows),
        n_features=int(request.n_features),
        feature_version=text(request.features.feature_version, "feature_version"),
        features=features,
    )


def registration_to_proto(registration: TaskRegistration) -> pb.RegisterTaskRequest:
    """Encode a RegisterTask request (the client's side)."""
    return pb.RegisterTaskRequest(
        name=registration.name,
        task_type=registration.task_type.value if registration.task_type else "",
        n_rows=registration.n_rows,
        n_features=registration.n_features,
        features=pb.TaskFeatures(
            feature_version=registration.feature_version,
            features=[
                pb.MetaFeature(name=k, value=float(v)) for k, v in registration.features.items()
            ],
        ),
    )


def registered_to_proto(registered: RegisteredTask) -> pb.RegisterTaskResponse:
    """Encode a registered task."""
    return pb.RegisterTaskResponse(task=task_to_proto(registered.task), created=registered.created)


def registered_from_proto(message: pb.RegisterTaskResponse) -> RegisteredTask:
    """Decode a registered task (the client's side)."""
    return RegisteredTask(task_from_proto(message.task), message.created)


def task_listing_to_proto(listing: TaskListing) -> pb.ListTasksResponse:
    """Encode a page of tasks."""
    return pb.ListTasksResponse(
        tasks=[task_to_proto(t) for t in listing.tasks], next_page_token=listing.next_page_token
    )


def task_listing_from_proto(message: pb.ListTasksResponse) -> TaskListing:
    """Decode a page of tasks (the client's side)."""
    return TaskListing(tuple(task_from_proto(t) for t in message.tasks), message.next_page_token)


def task_detail_to_proto(detail: TaskDetail) -> pb.GetTaskResponse:
    """Encode a task with its meta-features and results per space (NaN stays NaN)."""
    return pb.GetTaskResponse(
        task=task_to_proto(detail.task),
        features=[features_to_proto(f) for f in detail.features],
        results=[
            pb.SpaceResults(space_id=r.space_id, space_name=r.space_name, results=r.results)
            for r in detail.results
        ],
    )


def task_detail_from_proto(message: pb.GetTaskResponse) -> TaskDetail:
    """Decode a task's detail (the client's side)."""
    task = task_from_proto(message.task)
    return TaskDetail(
        task,
        tuple(features_from_proto(f, task.task_id) for f in message.features),
        tuple(SpaceResults(r.space_id, r.space_name, int(r.results)) for r in message.results),
    )
