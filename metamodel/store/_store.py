"""The records store: tasks, features, spaces, evaluation records and model versions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from warmstart.metamodel.configs import hash_config_json
from warmstart.metamodel.errors import (
    InvalidRequestError,
    NotFoundError,
    StorageError,
    WarmstartError,
)
from warmstart.metamodel.store import _codec, _reported
from warmstart.metamodel.store._engine import WRITE, create_store_engine, normalize_url, sqlite_path
from warmstart.metamodel.store._schema import (
    MissingDatabaseError,
    SchemaState,
    check_schema,
    check_state,
    check_upgradable,
    ensure_schema,
    inspect_sqlite_file,
    upgrade_schema,
)
from warmstart.metamodel.store._tables import (
    model_versions,
    records,
    search_spaces,
    task_features,
    tasks,
)
from warmstart.metamodel.types import (
    EvaluationRecord,
    ModelVersion,
    RecordSource,
    RecordStatus,
    SearchSpace,
    Task,
    TaskFeatures,
)

__all__ = ["RecordFilter", "RecordStore", "StoreStats"]

_CHUNK = 2000
_RETRIES = 5  # for PostgreSQL deadlocks / serialization failures under contention


@dataclass(frozen=True)
class RecordFilter:
    """Which records a query selects; ``None`` fields select everything."""

    space_id: str | None = None
    space_name: str | None = None
    task_id: str | None = None
    status: RecordStatus | None = None
    source: RecordSource | None = None
    space_ids: tuple[str, ...] | None = None  # any of these spaces


@dataclass(frozen=True)
class StoreStats:
    """Counts for ``warmstart db stats``."""

    url: str
    revision: str | None
    tasks: int
    spaces: int
    records: int
    records_by_status: dict[str, int]
    records_by_source: dict[str, int]
    records_by_space: dict[str, int]
    model_versions: int


class RecordStore:
    """Reads and writes warmstart's database; every value in or out is a domain object.

    Open it with :meth:`open`. All methods are safe to call from several
    processes on the same database: inserts are idempotent on each table's
    natural key and every write is one transaction.
    """

    def __init__(self, engine: Engine, url: str, schema: SchemaState) -> None:
        self._engine = engine
        self.url = url
        self.schema = schema

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> RecordStore:
        """Open (and, if new and ``create``, create) the database at ``url``.

        An existing SQLite file is inspected read-only first: one that is refused
        is left byte for byte as it was. Without ``create``, a SQLite file that
        does not exist is refused before anything (its folder included) is made.

        Raises:
            InvalidRequestError: The URL is malformed or names an unsupported database.
            MissingDatabaseError: ``create`` is off and there is no database yet.
            SchemaMismatchError: Not a warmstart database, or not at the newest revision.
            StorageError: The database cannot be reached.
        """
        shown = normalize_url(url).render_as_string(hide_password=True)
        state = _inspect_sqlite(url, shown, must_exist=not create)
        if state is not None and not (state.empty and create):
            check_state(state, shown)
        engine = create_store_engine(url)
        try:
            with (
                _translate(shown),
                engine.connect().execution_options(**{WRITE: True}) as conn,
                conn.begin(),
            ):
                schema = ensure_schema(conn, shown, create=create)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, shown, schema)

    @staticmethod
    def upgrade(url: str) -> tuple[str | None, str]:
        """Create or upgrade the database at ``url`` to the newest schema.

        Returns:
            The revision before and after the upgrade.

        Raises:
            SchemaMismatchError: Another program's database, or a revision this code
                does not know (a SQLite file so refused is left as it was).
        """
        shown = normalize_url(url).render_as_string(hide_password=True)
        state = _inspect_sqlite(url, shown, must_exist=False)
        if state is not None:
            check_upgradable(state, shown)
        engine = create_store_engine(url)
        try:
            with (
                _translate(shown),
                engine.connect().execution_options(**{WRITE: True}) as conn,
                conn.begin(),
            ):
                return upgrade_schema(conn)
        finally:
            engine.dispose()

    @staticmethod
    def check(url: str) -> SchemaState:
        """Return the schema state of ``url`` or raise :class:`SchemaMismatchError`.

        A SQLite file is only read (and a missing one is not created).
        """
        shown = normalize_url(url).render_as_string(hide_password=True)
        state = _inspect_sqlite(url, shown, must_exist=True)
        if state is not None:
            return check_state(state, shown)
        engine = create_store_engine(url)
        try:
            with _translate(shown), engine.connect() as conn:
                return check_schema(conn, shown)
        finally:
            engine.dispose()

    def close(self) -> None:
        """Release every connection."""
        self._engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with _translate(self.url), self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with (
            _translate(self.url),
            self._engine.connect().execution_options(**{WRITE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        if self.backend == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    # -- tasks -----------------------------------------------------------------------------

    def put_tasks(self, new_tasks: Iterable[Task]) -> int:
        """Insert tasks that are not stored yet; return how many were new.

        A task id already stored with a different name or type is refused.

        Raises:
            InvalidRequestError: A task conflicts with the stored one of the same id.
        """
        return self.add_all(tasks=new_tasks)[0]

    def _put_tasks(self, conn: sa.Connection, new_tasks: Iterable[Task]) -> int:
        items = list({t.task_id: t for t in new_tasks}.values())
        if not items:
            return 0
        stored = self._tasks_by_id(conn, [t.task_id for t in items])
        for task in items:
            old = stored.get(task.task_id)
            if old is not None and (old.name, old.task_type) != (task.name, task.task_type):
                raise InvalidRequestError(
                    f"task {task.task_id} is stored as {old.name!r} ({old.task_type.value}); "
                    f"refusing to redefine it as {task.name!r} ({task.task_type.value})"
                )
        rows = [_codec.task_to_row(t) for t in items if t.task_id not in stored]
        if not rows:
            return 0
        return len(conn.execute(self._insert(tasks).returning(tasks.c.task_id), rows).all())

    def add_all(
        self,
        *,
        tasks: Iterable[Task] = (),
        spaces: Iterable[SearchSpace] = (),
        records: Iterable[EvaluationRecord] = (),
    ) -> tuple[int, int, int]:
        """Insert tasks, spaces and records in one transaction: all of it or nothing.

        Returns:
            How many tasks, spaces and records were new.

        Raises:
            InvalidRequestError: A task conflicts with a stored one, or a record is invalid.
            NotFoundError: A record names a task or space that is neither stored nor given.
        """
        task_list, space_list = list(tasks), list(spaces)
        rows = self._record_rows(list(records))
        for attempt in range(_RETRIES):
            try:
                with self._write() as conn:
                    new_tasks = self._put_tasks(conn, task_list)
                    new_spaces = self._put_spaces(conn, space_list)
                    new_records = self._insert_records(conn, rows)
                return new_tasks, new_spaces, new_records
            except StorageError as exc:
                if not _retryable(exc) or attempt == _RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def put_task(self, task: Task) -> bool:
        """Insert one task; return whether it was new."""
        return self.put_tasks([task]) == 1

    def _tasks_by_id(self, conn: sa.Connection, ids: Sequence[str]) -> dict[str, Task]:
        out: dict[str, Task] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            for row in conn.execute(sa.select(tasks).where(tasks.c.task_id.in_(chunk))).mappings():
                out[row["task_id"]] = _codec.task_from_row(row)
        return out

    def get_tasks(self, task_ids: Iterable[str]) -> dict[str, Task]:
        """Return the stored tasks among ``task_ids``, by id (ids not stored are left out)."""
        with self._read() as conn:
            return self._tasks_by_id(conn, list(dict.fromkeys(task_ids)))

    def get_task(self, task_id: str) -> Task:
        """Return a stored task.

        Raises:
            NotFoundError: No task has this id.
        """
        with self._read() as conn:
            found = self._tasks_by_id(conn, [task_id])
        if task_id not in found:
            raise NotFoundError(f"no task with id {task_id!r} in {self.url}")
        return found[task_id]

    def list_tasks(self) -> list[Task]:
        """Return every stored task, ordered by name."""
        with self._read() as conn:
            rows = conn.execute(sa.select(tasks).order_by(tasks.c.name)).mappings().all()
        return [_codec.task_from_row(r) for r in rows]

    def page_tasks(
        self, limit: int, *, name_prefix: str = "", after: tuple[str, str] | None = None
    ) -> _reported.TaskPage:
        """Return up to ``limit`` tasks in (name, id) order, after ``after`` if given.

        Args:
            limit: Most tasks on the page (>= 1).
            name_prefix: Only tasks whose name starts with this (case-sensitive).
            after: The (name, task id) of the previous page's last task.

        Raises:
            InvalidRequestError: ``limit`` is below 1.
        """
        if limit < 1:
            raise InvalidRequestError(f"limit must be >= 1, got {limit}")
        with self._read() as conn:
            rows = conn.execute(_reported.page_query(name_prefix, after, limit)).mappings().all()
        found = [_codec.task_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return _reported.TaskPage(found, (found[-1].name, found[-1].task_id) if more else None)

    def task_record_counts(self, task_id: str) -> list[tuple[str, str, int]]:
        """Return how many records a task has per space version: (space id, name, count)."""
        with self._read() as conn:
            rows = conn.execute(_reported.counts_query(task_id)).all()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    # -- task features ---------------------------------------------------------------------

    def task_feature_sets(self, task_id: str) -> list[TaskFeatures]:
        """Return every feature version stored for one task, by version."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(task_features)
                .where(task_features.c.task_id == task_id)
                .order_by(task_features.c.version)
            ).mappings()
            return [_codec.task_features_from_row(r) for r in rows]

    def put_task_features(self, features: Iterable[TaskFeatures]) -> int:
        """Store meta-features (one row per task and feature version); return how many new."""
        items = list({(f.task_id, f.version): f for f in features}.values())
        if not items:
            return 0
        with self._write() as conn:
            self._require_tasks(conn, {f.task_id for f in items})
            rows = [
                {
                    "task_id": f.task_id,
                    "version": f.version,
                    "names": json.dumps(list(f.names)),
                    "feature_values": json.dumps(
                        [v if v == v and abs(v) != float("inf") else None for v in f.values]
                    ),
                    "created_at": _codec.utcnow(),
                }
                for f in items
            ]
            result = conn.execute(
                self._insert(task_features).returning(task_features.c.task_id), rows
            )
            return len(result.all())

    def get_task_features(self, task_id: str, version: str) -> TaskFeatures:
        """Return one task's features under one feature version.

        Raises:
            NotFoundError: None are stored for this task and version.
        """
        with self._read() as conn:
            row = (
                conn.execute(
                    sa.select(task_features).where(
                        task_features.c.task_id == task_id, task_features.c.version == version
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"no meta-features of version {version!r} stored for task {task_id!r}"
            )
        return _codec.task_features_from_row(row)

    def list_task_features(self, version: str) -> dict[str, TaskFeatures]:
        """Return ``{task_id: features}`` for every task with features of ``version``."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(task_features).where(task_features.c.version == version)
            ).mappings()
            return {r["task_id"]: _codec.task_features_from_row(r) for r in rows}

    # -- spaces ----------------------------------------------------------------------------

    def put_space(self, space: SearchSpace) -> bool:
        """Store a search space version; return whether it was new."""
        return self.add_all(spaces=[space])[1] == 1

    def _put_spaces(self, conn: sa.Connection, spaces: Iterable[SearchSpace]) -> int:
        now = _codec.utcnow()
        rows = [
            {"space_id": s.space_id, "name": s.name, "definition": s.definition, "created_at": now}
            for s in {s.space_id: s for s in spaces}.values()
        ]
        if not rows:
            return 0
        statement = self._insert(search_spaces).returning(search_spaces.c.space_id)
        return len(conn.execute(statement, rows).all())

    def get_space(self, space_id: str) -> SearchSpace:
        """Return a space by id.

        Raises:
            NotFoundError: No space has this id.
        """
        with self._read() as conn:
            row = (
                conn.execute(sa.select(search_spaces).where(search_spaces.c.space_id == space_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no search space with id {space_id!r} in {self.url}")
        return _codec.space_from_row(row)

    def find_space(self, name: str) -> SearchSpace:
        """Return the newest stored version of the space called ``name``.

        Raises:
            NotFoundError: No space has this name (the message lists those that exist).
        """
        with self._read() as conn:
            row = (
                conn.execute(
                    sa.select(search_spaces)
                    .where(search_spaces.c.name == name)
                    .order_by(search_spaces.c.created_at.desc(), search_spaces.c.space_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            names = sorted({s.name for s in self.list_spaces()})
            raise NotFoundError(
                f"no search space named {name!r}; stored spaces: {', '.join(names) or 'none'}"
            )
        return _codec.space_from_row(row)

    def list_spaces(self) -> list[SearchSpace]:
        """Return every stored space version, by name then age."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(search_spaces).order_by(search_spaces.c.name, search_spaces.c.created_at)
            ).mappings()
            return [_codec.space_from_row(r) for r in rows]

    # -- records ---------------------------------------------------------------------------

    def add_records(self, new_records: Iterable[EvaluationRecord]) -> int:
        """Insert records in one transaction; return how many were new.

        Records are unique on (task, space, config hash, seed, fidelity), and on
        ``external_id`` where one is given: a record that is already stored is
        skipped, not an error. Either every new record is stored or none is.

        Raises:
            InvalidRequestError: A record is invalid (all problems are listed, by position).
            NotFoundError: A record names a task or space that is not stored.
        """
        return self.add_all(records=new_records)[2]

    def add_reported(self, reported: Sequence[EvaluationRecord]) -> _reported.ReportOutcome:
        """Store client-reported records (each with its ``external_id``) in one transaction.

        An id stored before with the same payload counts as ``already``; a new id whose
        evaluation (task, space, config, seed, fidelity) is stored under another id is
        not stored and is listed among the duplicates. Either every new record is
        stored or none is.

        Raises:
            ConflictError: An id is stored with another payload (nothing is stored).
            InvalidRequestError: A record is invalid or has no ``external_id``.
            NotFoundError: A record names a task or space that is not stored.
        """
        items = list(reported)
        if any(not r.external_id for r in items):
            raise InvalidRequestError("every reported record needs its external_id")
        ids = [r.external_id or "" for r in items]
        for attempt in range(_RETRIES):
            try:
                with self._write() as conn:
                    before = _reported.by_external_id(conn, ids, _CHUNK)
                    _reported.check_conflicts(items, before)
                    fresh = [r for r in items if r.external_id not in before]
                    inserted = self._insert_records(conn, self._record_rows(fresh))
                    after = _reported.by_external_id(conn, ids, _CHUNK)
                    _reported.check_conflicts(fresh, after)  # a concurrent report of an id
                    return _reported.outcome(items, before, after, inserted)
            except StorageError as exc:
                if not _retryable(exc) or attempt == _RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _record_rows(items: list[EvaluationRecord]) -> list[dict[str, Any]]:
        problems: list[str] = []
        now = _codec.utcnow()
        rows: list[dict[str, Any]] = []
        for index, record in enumerate(items):
            found = record.problems()
            if not found:
                row = _codec.record_to_row(record, now)
                if hash_config_json(row["config"]) != record.config_hash:
                    found.append("config_hash does not match the config")
                rows.append(row)
            problems.extend(f"record {index}: {p}" for p in found)
        if problems:
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise InvalidRequestError("invalid records: " + "; ".join(problems[:10]) + more)
        # A fixed order means concurrent writers lock rows in the same order: no deadlocks.
        rows.sort(key=_row_key)
        return rows

    def _insert_records(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        self._require_tasks(conn, {r["task_id"] for r in rows})
        self._require_spaces(conn, {r["space_id"] for r in rows})
        if self.backend == "postgresql":
            return _copy_records(conn, rows)
        statement = self._insert(records).returning(records.c.record_id)
        new = 0
        for start in range(0, len(rows), _CHUNK):
            new += len(conn.execute(statement, rows[start : start + _CHUNK]).all())
        return new

    def _require_tasks(self, conn: sa.Connection, ids: set[str]) -> None:
        missing = ids - set(self._existing(conn, tasks.c.task_id, ids))
        if missing:
            shown = ", ".join(sorted(missing)[:5])
            raise NotFoundError(f"unknown task id(s) {shown}: store the tasks first (put_tasks)")

    def _require_spaces(self, conn: sa.Connection, ids: set[str]) -> None:
        missing = ids - set(self._existing(conn, search_spaces.c.space_id, ids))
        if missing:
            shown = ", ".join(sorted(missing)[:5])
            raise NotFoundError(f"unknown search space id(s) {shown}: store the spaces first")

    @staticmethod
    def _existing(conn: sa.Connection, column: sa.Column[str], ids: set[str]) -> list[str]:
        wanted = sorted(ids)
        out: list[str] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            out.extend(conn.execute(sa.select(column).where(column.in_(chunk))).scalars())
        return out

    def _where(self, query: Any, where: RecordFilter) -> Any:
        if where.space_id is not None:
            query = query.where(records.c.space_id == where.space_id)
        if where.space_ids is not None:
            query = query.where(records.c.space_id.in_(where.space_ids))
        if where.space_name is not None:
            ids = sa.select(search_spaces.c.space_id).where(
                search_spaces.c.name == where.space_name
            )
            query = query.where(records.c.space_id.in_(ids))
        if where.task_id is not None:
            query = query.where(records.c.task_id == where.task_id)
        if where.status is not None:
            query = query.where(records.c.status == RecordStatus(where.status).value)
        if where.source is not None:
            query = query.where(records.c.source == RecordSource(where.source).value)
        return query

    def iter_records(
        self, where: RecordFilter | None = None, *, batch_size: int = 5000
    ) -> Iterator[EvaluationRecord]:
        """Stream the selected records in insertion order, a batch of rows at a time."""
        query = self._where(sa.select(records), where or RecordFilter()).order_by(
            records.c.record_id
        )
        with self._read() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(query).mappings()
            for row in result:
                yield _codec.record_from_row(row)

    def get_records(
        self, where: RecordFilter | None = None, *, limit: int | None = None
    ) -> list[EvaluationRecord]:
        """Return the selected records in insertion order (at most ``limit``)."""
        query = self._where(sa.select(records), where or RecordFilter()).order_by(
            records.c.record_id
        )
        if limit is not None:
            if limit < 0:
                raise InvalidRequestError(f"limit must be >= 0, got {limit}")
            query = query.limit(limit)
        with self._read() as conn:
            return [_codec.record_from_row(r) for r in conn.execute(query).mappings()]

    def count_records(self, where: RecordFilter | None = None) -> int:
        """Return how many records match."""
        query = self._where(
            sa.select(sa.func.count()).select_from(records), where or RecordFilter()
        )
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def record_keys(
        self, where: RecordFilter | None = None
    ) -> set[tuple[str, str, str, int, float]]:
        """Return the natural keys of the selected records (to plan what is missing)."""
        columns = (
            records.c.task_id,
            records.c.space_id,
            records.c.config_hash,
            records.c.seed,
            records.c.fidelity,
        )
        query = self._where(sa.select(*columns), where or RecordFilter())
        with self._read() as conn:
            return {(r[0], r[1], r[2], int(r[3]), float(r[4])) for r in conn.execute(query)}

    # -- model versions --------------------------------------------------------------------

    def add_model_version(self, model: ModelVersion) -> None:
        """Register a model bundle.

        Raises:
            InvalidRequestError: The version is already registered.
        """
        with self._write() as conn:
            exists = conn.execute(
                sa.select(model_versions.c.version).where(model_versions.c.version == model.version)
            ).first()
            if exists:
                raise InvalidRequestError(f"model version {model.version!r} is already registered")
            conn.execute(model_versions.insert(), [_codec.model_version_to_row(model)])

    def list_model_versions(self, space_name: str | None = None) -> list[ModelVersion]:
        """Return registered model versions, newest first."""
        query = sa.select(model_versions).order_by(model_versions.c.created_at.desc())
        if space_name is not None:
            query = query.where(model_versions.c.space_name == space_name)
        with self._read() as conn:
            return [_codec.model_version_from_row(r) for r in conn.execute(query).mappings()]

    def set_serving(self, version: str) -> ModelVersion:
        """Mark ``version`` as the one served for its space (and no other of that space).

        Raises:
            NotFoundError: The version is not registered.
        """
        with self._write() as conn:
            row = (
                conn.execute(sa.select(model_versions).where(model_versions.c.version == version))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError(f"no model version {version!r} is registered")
            conn.execute(
                model_versions.update()
                .where(model_versions.c.space_name == row["space_name"])
                .values(serving=model_versions.c.version == version)
            )
        return self.get_model_version(version)

    def get_model_version(self, version: str) -> ModelVersion:
        """Return one registered model version.

        Raises:
            NotFoundError: The version is not registered.
        """
        with self._read() as conn:
            row = (
                conn.execute(sa.select(model_versions).where(model_versions.c.version == version))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no model version {version!r} is registered")
        return _codec.model_version_from_row(row)

    # -- statistics ------------------------------------------------------------------------

    def stats(self) -> StoreStats:
        """Return counts of everything stored."""
        with self._read() as conn:

            def count(table: sa.Table) -> int:
                return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

            def grouped(column: sa.Column[Any]) -> dict[str, int]:
                query = sa.select(column, sa.func.count()).group_by(column).order_by(column)
                return {str(k): int(v) for k, v in conn.execute(query)}

            by_space_query = (
                sa.select(search_spaces.c.name, sa.func.count(records.c.record_id))
                .select_from(search_spaces.outerjoin(records))
                .group_by(search_spaces.c.name)
                .order_by(search_spaces.c.name)
            )
            return StoreStats(
                url=self.url,
                revision=self.schema.revision,
                tasks=count(tasks),
                spaces=count(search_spaces),
                records=count(records),
                records_by_status=grouped(records.c.status),
                records_by_source=grouped(records.c.source),
                records_by_space={str(k): int(v) for k, v in conn.execute(by_space_query)},
                model_versions=count(model_versions),
            )


_KEY_COLUMNS = ("task_id", "space_id", "config_hash", "seed", "fidelity")
_RECORD_COLUMNS = [c.name for c in records.columns if c.name != "record_id"]


def _row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in _KEY_COLUMNS)


def _copy_records(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """PostgreSQL fast path: COPY into a temporary table, then one INSERT ... SELECT.

    Many-row INSERT statements spend most of their time in the driver's query
    parsing; COPY does not, and the INSERT keeps ON CONFLICT DO NOTHING and
    the sorted order that keeps concurrent writers free of deadlocks.
    """
    columns = ", ".join(_RECORD_COLUMNS)
    order = ", ".join(_KEY_COLUMNS)
    driver = conn.connection.driver_connection
    if driver is None:  # pragma: no cover - an open connection always has one
        raise StorageError("the database connection was closed during an insert")
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS warmstart_records_in "
            "(LIKE records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE warmstart_records_in")
        with cursor.copy(f"COPY warmstart_records_in ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in _RECORD_COLUMNS])
        cursor.execute(
            f"INSERT INTO records ({columns}) SELECT {columns} FROM warmstart_records_in "
            f"ORDER BY {order} ON CONFLICT DO NOTHING"
        )
        return int(cursor.rowcount)


def _retryable(exc: StorageError) -> bool:
    text = str(exc).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text


def _inspect_sqlite(url: str, shown: str, *, must_exist: bool) -> SchemaState | None:
    """The schema state of the SQLite file of ``url``, read without writing to it.

    Returns:
        ``None`` for PostgreSQL, an in-memory database, or (unless ``must_exist``)
        a file that does not exist yet.

    Raises:
        MissingDatabaseError: ``must_exist`` and there is no file.
    """
    path = sqlite_path(normalize_url(url))
    if path is None:
        return None
    state = inspect_sqlite_file(path)
    if state is None and must_exist:
        raise MissingDatabaseError(
            f"there is no database at {path}; create it with `warmstart db upgrade --db {shown}`"
        )
    return state


@contextmanager
def _translate(url: str) -> Iterator[None]:
    """Turn database driver errors into :class:`StorageError` with the URL named."""
    try:
        yield
    except WarmstartError:
        raise
    except OperationalError as exc:
        raise StorageError(f"database {url}: {_first_line(exc)}") from exc
    except DBAPIError as exc:
        raise StorageError(f"database {url}: {_first_line(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"database {url}: {exc}") from exc


def _first_line(exc: DBAPIError) -> str:
    original = exc.orig if exc.orig is not None else exc
    return (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
