"""Model events and named locks: which version served when, and who may publish now.

Every change of the serving model made through the ledger is one transaction
that also writes a :class:`ModelEvent` (publish, promote, rollback), so the
serving history can be walked back. Refresh runs write a ``refresh`` event
with their outcome: the "last refresh" marker. Named locks are rows of
``store_locks`` with an expiry; a process that dies while holding one blocks
others until the lease runs out (or a caller decides the holder is dead).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError, NotFoundError
from warmstart.metamodel.store import _codec
from warmstart.metamodel.store._store import RecordStore
from warmstart.metamodel.store._tables import model_events, model_versions, store_locks
from warmstart.metamodel.types import ModelVersion

__all__ = [
    "LockBusyError",
    "LockLostError",
    "ModelAction",
    "ModelEvent",
    "ModelLedger",
    "ServingChangedError",
    "StoreLock",
]


class ModelAction(StrEnum):
    """What a model event records."""

    PUBLISH = "publish"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    REFRESH = "refresh"


_SERVING_ACTIONS = (ModelAction.PUBLISH, ModelAction.PROMOTE, ModelAction.ROLLBACK)


@dataclass(frozen=True)
class ModelEvent:
    """One entry of the model history.

    Attributes:
        event_id: Increasing id (the order of events).
        space_name: The space the event is about.
        action: Publish, promote, rollback (the serving model changed) or refresh (a run ended).
        version: The version that serves after the event (or the refresh's new model).
        previous_version: The version that served before it.
        detail: JSON data: figures, counts, the training data cut-off, a reason.
        created_at: When (UTC).
    """

    event_id: int
    space_name: str
    action: ModelAction
    version: str | None
    previous_version: str | None
    detail: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class StoreLock:
    """A named lock held by one process until ``expires_at``."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


class LockBusyError(FailedPreconditionError):
    """Another holder has the lock."""

    def __init__(self, lock: StoreLock) -> None:
        super().__init__(
            f"the lock {lock.name!r} is held by {lock.holder} since "
            f"{lock.acquired_at:%Y-%m-%d %H:%M:%S} UTC (expires {lock.expires_at:%Y-%m-%d %H:%M:%S}"
            " UTC)"
        )
        self.lock = lock


class LockLostError(FailedPreconditionError):
    """The lock expired and was taken over (or released) while we worked."""


class ServingChangedError(FailedPreconditionError):
    """The serving version is not the one the caller compared against."""


def _clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _event(row: Mapping[Any, Any]) -> ModelEvent:
    return ModelEvent(
        event_id=int(row["event_id"]),
        space_name=row["space_name"],
        action=ModelAction(row["action"]),
        version=row["version"],
        previous_version=row["previous_version"],
        detail=json.loads(row["detail"]),
        created_at=_aware(row["created_at"]),
    )


def _lock(row: Mapping[Any, Any]) -> StoreLock:
    return StoreLock(
        name=row["name"],
        holder=row["holder"],
        acquired_at=_aware(row["acquired_at"]),
        expires_at=_aware(row["expires_at"]),
    )


class ModelLedger:
    """The model history and named locks of one store.

    Args:
        store: An open records store (its connections are used).
    """

    def __init__(self, store: RecordStore) -> None:
        self._store = store

    # -- serving changes ---------------------------------------------------------------------

    @staticmethod
    def _serving(conn: sa.Connection, space_name: str) -> str | None:
        query = sa.select(model_versions.c.version).where(
            model_versions.c.space_name == space_name, model_versions.c.serving.is_(True)
        )
        return conn.execute(query).scalars().first()

    @staticmethod
    def _insert_event(
        conn: sa.Connection,
        space_name: str,
        action: ModelAction,
        version: str | None,
        previous: str | None,
        detail: Mapping[str, Any],
    ) -> ModelEvent:
        row = {
            "space_name": space_name,
            "action": action.value,
            "version": version,
            "previous_version": previous,
            "detail": json.dumps(_clean(detail), sort_keys=True, allow_nan=False),
            "created_at": _codec.utcnow(),
        }
        event_id = conn.execute(
            model_events.insert().returning(model_events.c.event_id), [row]
        ).scalar_one()
        return _event({**row, "event_id": event_id})

    @staticmethod
    def _serve(conn: sa.Connection, space_name: str, version: str) -> None:
        conn.execute(
            model_versions.update()
            .where(model_versions.c.space_name == space_name)
            .values(serving=model_versions.c.version == version)
        )

    def publish(
        self,
        model: ModelVersion,
        *,
        expected_serving: str | None,
        detail: Mapping[str, Any],
    ) -> ModelEvent:
        """Register ``model`` and serve it, in one transaction, if nothing changed meanwhile.

        Args:
            model: The new version (its ``serving`` flag is ignored).
            expected_serving: The version the caller compared against (``None``: none served).
            detail: Stored with the publish event (figures, training data cut-off).

        Raises:
            ServingChangedError: Another version serves now; nothing was written.
            InvalidRequestError: The version is already registered.
        """
        with self._store._write() as conn:
            current = self._serving(conn, model.space_name)
            if current != expected_serving:
                raise ServingChangedError(
                    f"space {model.space_name!r} now serves {current or 'nothing'}, not "
                    f"{expected_serving or 'nothing'} as when this model was evaluated; "
                    "refusing to publish over a change made meanwhile"
                )
            exists = conn.execute(
                sa.select(model_versions.c.version).where(model_versions.c.version == model.version)
            ).first()
            if exists:
                raise InvalidRequestError(f"model version {model.version!r} is already registered")
            row = _codec.model_version_to_row(model)
            row["serving"] = False
            conn.execute(model_versions.insert(), [row])
            self._serve(conn, model.space_name, model.version)
            return self._insert_event(
                conn, model.space_name, ModelAction.PUBLISH, model.version, current, detail
            )

    def switch_serving(
        self,
        version: str,
        *,
        action: ModelAction,
        expected_serving: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> ModelEvent | None:
        """Serve a registered version instead of the current one of its space.

        Args:
            version: The version to serve.
            action: ``promote`` or ``rollback`` (recorded).
            expected_serving: If given, the switch happens only while this version serves.
            detail: Stored with the event.

        Returns:
            The event, or ``None`` when ``version`` already serves (nothing changed).

        Raises:
            NotFoundError: The version is not registered.
            ServingChangedError: ``expected_serving`` does not serve any more.
        """
        if action not in (ModelAction.PROMOTE, ModelAction.ROLLBACK):
            raise InvalidRequestError(f"switch_serving records promote or rollback, not {action}")
        with self._store._write() as conn:
            row = (
                conn.execute(sa.select(model_versions).where(model_versions.c.version == version))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError(f"no model version {version!r} is registered")
            space_name = row["space_name"]
            current = self._serving(conn, space_name)
            if expected_serving is not None and current != expected_serving:
                raise ServingChangedError(
                    f"space {space_name!r} now serves {current or 'nothing'}, not "
                    f"{expected_serving}; nothing changed"
                )
            if current == version:
                return None
            self._serve(conn, space_name, version)
            return self._insert_event(conn, space_name, action, version, current, detail or {})

    def record(
        self,
        space_name: str,
        action: ModelAction,
        *,
        version: str | None = None,
        previous_version: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> ModelEvent:
        """Write an event that changes nothing else (e.g. a refused refresh)."""
        with self._store._write() as conn:
            return self._insert_event(
                conn, space_name, action, version, previous_version, detail or {}
            )

    def events(
        self,
        space_name: str | None = None,
        *,
        actions: Iterable[ModelAction] | None = None,
        version: str | None = None,
        limit: int | None = None,
    ) -> list[ModelEvent]:
        """Return events, newest first, optionally of one space, some actions, one version."""
        query = sa.select(model_events).order_by(model_events.c.event_id.desc())
        if space_name is not None:
            query = query.where(model_events.c.space_name == space_name)
        if actions is not None:
            query = query.where(model_events.c.action.in_([ModelAction(a).value for a in actions]))
        if version is not None:
            query = query.where(model_events.c.version == version)
        if limit is not None:
            query = query.limit(limit)
        with self._store._read() as conn:
            return [_event(r) for r in conn.execute(query).mappings()]

    def previous_serving(self, space_name: str) -> tuple[ModelVersion, ModelVersion]:
        """Return the serving version of a space and the one that served before it.

        "Before" follows the history: the version replaced when the current one
        was published or promoted (rollbacks are skipped, so rolling back twice
        walks two steps back). Without history (a version marked serving by
        other means), it is the newest registered version older than the current.

        Raises:
            NotFoundError: The space has no serving version.
            FailedPreconditionError: There is no earlier version to go back to.
        """
        versions = self._store.list_model_versions(space_name)
        by_name = {v.version: v for v in versions}
        current = next((v for v in versions if v.serving), None)
        if current is None:
            raise NotFoundError(f"no model version serves space {space_name!r}")
        forward = (ModelAction.PUBLISH, ModelAction.PROMOTE)
        made = self.events(space_name, actions=forward, version=current.version, limit=1)
        if made and made[0].previous_version in by_name:
            return current, by_name[made[0].previous_version]
        if made and made[0].previous_version is not None:
            raise FailedPreconditionError(
                f"{current.version} replaced {made[0].previous_version}, which is no longer "
                "registered; promote a version explicitly (`warmstart model list`)"
            )
        older = [
            v
            for v in versions
            if v.created_at is not None
            and current.created_at is not None
            and v.created_at < current.created_at
        ]
        if made or not older:
            raise FailedPreconditionError(
                f"{current.version} is the first model version of space {space_name!r}; there is "
                "nothing to roll back to"
            )
        return current, max(older, key=lambda v: v.created_at or datetime.min.replace(tzinfo=UTC))

    # -- locks -------------------------------------------------------------------------------

    def get_lock(self, name: str) -> StoreLock | None:
        """Return the lock ``name`` if some holder has it (expired or not)."""
        with self._store._read() as conn:
            row = (
                conn.execute(sa.select(store_locks).where(store_locks.c.name == name))
                .mappings()
                .first()
            )
        return None if row is None else _lock(row)

    def acquire_lock(
        self,
        name: str,
        holder: str,
        ttl_seconds: float,
        *,
        holder_is_dead: Callable[[StoreLock], bool] | None = None,
    ) -> StoreLock:
        """Take the lock ``name`` for ``ttl_seconds`` (renew it to keep it longer).

        An expired lock, or one whose holder ``holder_is_dead`` says is gone, is taken over.

        Raises:
            LockBusyError: Another live holder has it.
        """
        if ttl_seconds <= 0:
            raise InvalidRequestError(f"the lock lease must be > 0 seconds, got {ttl_seconds}")
        now = _codec.utcnow()
        with self._store._write() as conn:
            row = (
                conn.execute(sa.select(store_locks).where(store_locks.c.name == name))
                .mappings()
                .first()
            )
            if row is not None:
                held = _lock(row)
                stale = held.expires_at <= now or (
                    holder_is_dead is not None and holder_is_dead(held)
                )
                if not stale and held.holder != holder:
                    raise LockBusyError(held)
                conn.execute(
                    store_locks.delete().where(
                        store_locks.c.name == name, store_locks.c.holder == held.holder
                    )
                )
            lock = StoreLock(name, holder, now, now + timedelta(seconds=ttl_seconds))
            inserted = conn.execute(
                self._store._insert(store_locks).returning(store_locks.c.name),
                [asdict(lock)],
            ).first()
            if inserted is None:  # someone took it between our read and our insert
                current = conn.execute(
                    sa.select(store_locks).where(store_locks.c.name == name)
                ).mappings()
                raise LockBusyError(_lock(current.one()))
        return lock

    def renew_lock(self, name: str, holder: str, ttl_seconds: float) -> None:
        """Extend our lease on ``name``.

        Raises:
            LockLostError: We do not hold it any more.
        """
        expires = _codec.utcnow() + timedelta(seconds=ttl_seconds)
        with self._store._write() as conn:
            result = conn.execute(
                store_locks.update()
                .where(store_locks.c.name == name, store_locks.c.holder == holder)
                .values(expires_at=expires)
            )
            if result.rowcount != 1:
                raise LockLostError(
                    f"the lock {name!r} was taken over or released while {holder} worked "
                    "(its lease ran out?); nothing was published"
                )

    def release_lock(self, name: str, holder: str) -> bool:
        """Give the lock back; return whether we held it."""
        with self._store._write() as conn:
            result = conn.execute(
                store_locks.delete().where(
                    store_locks.c.name == name, store_locks.c.holder == holder
                )
            )
            return bool(result.rowcount)
