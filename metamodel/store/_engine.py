"""Engines for the two supported backends, SQLite (embedded) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and write transactions start
with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock instead
of failing when a read transaction tries to upgrade to a write. An existing
file is first inspected through :func:`read_only_engine`, which changes no byte of
it, so a foreign or outdated database is refused exactly as it was found.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from warmstart.metamodel.errors import InvalidRequestError, StorageError

__all__ = [
    "WRITE",
    "check_sqlite_file",
    "create_store_engine",
    "normalize_url",
    "read_only_engine",
    "sqlite_path",
]

WRITE = "warmstart_write"
"""Execution option that marks a connection whose transaction will write."""

BUSY_TIMEOUT_MS = 60_000
_SQLITE_MAGIC = b"SQLite format 3\x00"


def normalize_url(url: str) -> URL:
    """Parse a database URL, choosing psycopg 3 for plain ``postgresql://``.

    Raises:
        InvalidRequestError: If the URL is malformed or names another database.
    """
    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidRequestError(
            f"not a database URL: {url!r}; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername != "postgresql+psycopg":
            raise InvalidRequestError(
                f"PostgreSQL is used through psycopg 3: write postgresql+psycopg://..., "
                f"got driver {parsed.drivername!r}"
            )
        return parsed
    if backend == "sqlite":
        return parsed
    raise InvalidRequestError(
        f"unsupported database {backend!r} in {url!r}; warmstart supports sqlite:///PATH "
        "and postgresql+psycopg://USER@HOST:PORT/DB"
    )


def sqlite_path(url: URL) -> Path | None:
    """Return the file of a SQLite URL, or ``None`` for an in-memory database."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def check_sqlite_file(path: Path) -> None:
    """Refuse a path that is a directory, or a non-empty file that is not SQLite.

    Raises:
        StorageError: The path cannot hold a SQLite database.
    """
    if path.is_dir():
        raise StorageError(f"{path} is a directory, not a SQLite database file")
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
        if head != _SQLITE_MAGIC:
            raise StorageError(
                f"{path} is not a warmstart database: it is not a SQLite file at all. "
                "Point --db (or WARMSTART_HOME) at a new path or at an existing warmstart database."
            )


def read_only_engine(path: Path) -> Engine:
    """An engine on an existing SQLite file opened read-only (``mode=ro``).

    Reading through it sets no pragma and writes nothing, so the file's bytes (its
    journal mode and change counter in the header included) stay as they were. A
    file in WAL mode may get its ``-wal`` and ``-shm`` companions, which SQLite
    needs to read it.
    """
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )

    return sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is wrong for WAL).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _on_sqlite_begin(conn: sa.Connection) -> None:
    immediate = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_store_engine(url: str) -> Engine:
    """Create an engine for a warmstart database URL.

    SQLite files get their parent directory created; a file that is not a
    SQLite database is refused before anything touches it.

    Raises:
        InvalidRequestError: If the URL is not supported.
        StorageError: If the SQLite path is not usable.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            check_sqlite_file(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the data directory {path.parent}: {exc}"
                ) from None
        engine = sa.create_engine(
            parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        sa.event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
