"""Tasks the service knows: registering them, listing them, and their observed results.

A registered task's id is derived from what the service stores of it (type, rows,
columns, feature version and values), so the same content always gets the same
id, on any replica, whether a client registers meta-features it computed or
DescribeTask computes them from the table: registering it again is a no-op.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import struct
from collections.abc import Sequence

from warmstart.metamodel.errors import InvalidRequestError, NotFoundError, shown
from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION
from warmstart.metamodel.recommend import MAX_OBSERVATIONS
from warmstart.metamodel.spaces import validate_config
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import (
    Observation,
    RecordStatus,
    Task,
    TaskFeatures,
    TaskType,
)
from warmstart.service.server._models import ModelRegistry, ServedModel
from warmstart.service.wire.tasks import (
    RegisteredTask,
    SpaceResults,
    TaskDetail,
    TaskListing,
    TaskRegistration,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_OBSERVATIONS",
    "MAX_PAGE_SIZE",
    "TaskBook",
    "checked_observations",
    "task_content_id",
]

DEFAULT_PAGE_SIZE = 100
"""Tasks on a ListTasks page when the request leaves page_size at 0."""
MAX_PAGE_SIZE = 1000
"""The most tasks on one ListTasks page."""
CLIENT_SOURCE = "client"
"""The ``source`` of tasks that clients registered."""

_MAX_COUNT = 2**31 - 1  # the store's row and column counts are 32-bit integers
_ID_SALT = b"warmstart-registered-task-1\x00"
_NAN = struct.pack("<d", math.nan)


def task_content_id(
    task_type: TaskType, n_rows: int, n_features: int, features: TaskFeatures
) -> str:
    """The id of a registered task: 16 hex characters of a SHA-256 over its stored content.

    Values are hashed as IEEE doubles (every NaN alike), names with them, in the
    features' fixed order.
    """
    digest = hashlib.sha256(_ID_SALT)
    digest.update(f"{task_type.value}\x00{n_rows}\x00{n_features}\x00".encode())
    digest.update(f"{features.version}\x00".encode())
    for name, value in zip(features.names, features.values, strict=True):
        digest.update(name.encode() + b"\x00")
        digest.update(_NAN if math.isnan(value) else struct.pack("<d", value))
    return digest.hexdigest()[:16]


def _page_token(after: tuple[str, str]) -> str:
    raw = json.dumps(list(after), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token: str) -> tuple[str, str] | None:
    """The (name, id) a page token continues after; ``None`` for the first page.

    Raises:
        InvalidRequestError: A token this service did not give out.
    """
    if not token:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        decoded = None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not all(isinstance(part, str) for part in decoded)
    ):
        raise InvalidRequestError(
            f"page_token {shown(token)} is not one ListTasks gave out: pass the previous "
            "page's next_page_token unchanged, or leave it empty for the first page"
        )
    return decoded[0], decoded[1]


class TaskBook:
    """Registered tasks and their observations, over the served models and the store.

    Args:
        models: The served models (their feature versions and names).
        store: The records store.
    """

    def __init__(self, models: ModelRegistry, store: RecordStore) -> None:
        self.models = models
        self.store = store

    # -- registering ---------------------------------------------------------------------------

    def feature_names(self, version: str) -> tuple[str, ...]:
        """The meta-feature names of ``version``: a served model's, or those DescribeTask
        computes.

        Raises:
            InvalidRequestError: No served model takes this version and it is not the one
                DescribeTask computes (the known versions are listed).
        """
        for model in self.models.models.values():
            if model.bundle.feature_version == version:
                return tuple(model.bundle.feature_names)
        if version == FEATURE_VERSION:
            return tuple(FEATURE_NAMES)
        known = sorted({m.bundle.feature_version for m in self.models.models.values()})
        known_text = ", ".join(repr(v) for v in [*known, FEATURE_VERSION])
        raise InvalidRequestError(
            f"feature_version {shown(version)} is not one the service knows ({known_text}); "
            "compute the meta-features with DescribeTask, or see GetModelInfo"
        )

    def register(self, registration: TaskRegistration) -> RegisteredTask:
        """Store a task with the meta-features its client computed (a no-op if stored).

        Raises:
            InvalidRequestError: An unspecified type, a count below 1, an unknown feature
                version or name, or an infinite value.
        """
        problems: list[str] = []
        if registration.task_type is None:
            problems.append("task_type is unspecified; use binary, multiclass or regression")
        for field, count in (
            ("n_rows", registration.n_rows),
            ("n_features", registration.n_features),
        ):
            if not 1 <= count <= _MAX_COUNT:
                problems.append(f"{field} must be in [1, {_MAX_COUNT}], got {count}")
        names = self.feature_names(registration.feature_version)
        unknown = sorted(set(registration.features) - set(names))
        if unknown:
            listed = ", ".join(map(shown, unknown[:10]))
            problems.append(
                f"meta-feature(s) {listed} are not of version "
                f"{registration.feature_version!r} (GetModelInfo lists its names)"
            )
        infinite = sorted(k for k, v in registration.features.items() if math.isinf(v))
        if infinite:
            problems.append(
                f"meta-feature(s) {', '.join(map(shown, infinite[:10]))} are infinite; "
                "give NaN (or leave them out) where a value is undefined"
            )
        if problems or registration.task_type is None:
            raise InvalidRequestError("invalid task: " + "; ".join(problems))
        features = TaskFeatures(
            "",
            registration.feature_version,
            names,
            tuple(float(registration.features.get(n, math.nan)) for n in names),
        )
        return self.store_task(
            registration.name,
            registration.task_type,
            registration.n_rows,
            registration.n_features,
            features,
        )

    def store_task(
        self,
        name: str,
        task_type: TaskType,
        n_rows: int,
        n_features: int,
        features: TaskFeatures,
        n_classes: int | None = None,
    ) -> RegisteredTask:
        """Store a task and its meta-features under their content id; a task stored before
        keeps its first name (``created`` is then false)."""
        task_id = task_content_id(task_type, n_rows, n_features, features)
        task = Task(
            task_id,
            name or f"{CLIENT_SOURCE}/{task_id}",
            task_type,
            CLIENT_SOURCE,
            n_rows=n_rows,
            n_features=n_features,
            n_classes=n_classes,
        )
        stored = self.store.get_tasks([task_id]).get(task_id)
        created = False
        if stored is None:
            try:
                created = self.store.put_task(task)
            except InvalidRequestError:  # stored meanwhile under another name
                created = False
            stored = self.store.get_task(task_id)
        named = TaskFeatures(task_id, features.version, features.names, features.values)
        self.store.put_task_features([named])  # a no-op when stored (same id, same values)
        return RegisteredTask(stored, created)

    # -- reading -------------------------------------------------------------------------------

    def page(self, page_size: int, page_token: str, name_prefix: str) -> TaskListing:
        """One page of the tasks whose name starts with ``name_prefix``.

        Raises:
            InvalidRequestError: A page size out of range or a token not given out here.
        """
        if not 0 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequestError(
                f"page_size must be in [1, {MAX_PAGE_SIZE}] (0: {DEFAULT_PAGE_SIZE}), "
                f"got {page_size}"
            )
        found = self.store.page_tasks(
            page_size or DEFAULT_PAGE_SIZE, name_prefix=name_prefix, after=_after(page_token)
        )
        token = _page_token(found.next_after) if found.next_after is not None else ""
        return TaskListing(tuple(found.tasks), token)

    def require(self, task_id: str) -> Task:
        """The stored task ``task_id``.

        Raises:
            NotFoundError: No such task.
        """
        found = self.store.get_tasks([task_id]).get(task_id)
        if found is None:
            raise NotFoundError(
                f"unknown task_id {shown(task_id)}: the service has no such task (ListTasks "
                "lists those it has; DescribeTask or RegisterTask with a write token adds one)"
            )
        return found

    def detail(self, task_id: str) -> TaskDetail:
        """A task with its meta-features and its results per space.

        Raises:
            InvalidRequestError: ``task_id`` is empty.
            NotFoundError: No such task.
        """
        if not task_id:
            raise InvalidRequestError("task_id is empty: give the id of a task (ListTasks)")
        task = self.require(task_id)
        counts = self.store.task_record_counts(task_id)
        return TaskDetail(
            task,
            tuple(self.store.task_feature_sets(task_id)),
            tuple(SpaceResults(*c) for c in counts),
        )

    def observations(
        self, task_id: str, model: ServedModel, room: int = MAX_OBSERVATIONS
    ) -> list[Observation]:
        """The task's successful stored results in the model's space, as observations.

        Records of every stored version of the space whose config is valid in the served
        one count, the newest ``room`` of them (their primary score).
        """
        if room <= 0:
            return []
        found = self.store.get_records(
            RecordFilter(
                task_id=task_id, space_name=model.bundle.space.name, status=RecordStatus.OK
            )
        )
        out: list[Observation] = []
        for record in reversed(found):
            if record.score is None or not math.isfinite(record.score):
                continue
            try:
                config = validate_config(model.configspace, record.config)
            except InvalidRequestError:
                continue  # a config of another version of the space
            out.append(Observation(config, float(record.score)))
            if len(out) >= room:
                break
        out.reverse()
        return out


def checked_observations(model: ServedModel, given: Sequence[Observation]) -> list[Observation]:
    """Observations given in a request, each config checked in the model's space.

    Raises:
        InvalidRequestError: A score that is not finite or a config not valid in the
            space (named by position).
    """
    out: list[Observation] = []
    for i, (config, score) in enumerate((o.config, o.score) for o in given):
        if not isinstance(score, (int, float)) or not math.isfinite(score):
            raise InvalidRequestError(
                f"observations[{i}]: score must be a finite number, got {score}"
            )
        try:
            out.append(Observation(validate_config(model.configspace, config), float(score)))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"observations[{i}]: {exc}") from None
    return out
