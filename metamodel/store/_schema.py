"""Schema versions: create a new database at head, refuse an outdated one.

A new (empty) database is created and stamped at the newest Alembic revision
under a lock, so several processes may open it at once. An older database is
refused with the command that upgrades it; it is never migrated silently. An
existing SQLite file is inspected read-only first (:func:`inspect_sqlite_file`),
so a refused file is left byte for byte as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from warmstart.metamodel.errors import SchemaMismatchError, StorageError
from warmstart.metamodel.store._engine import check_sqlite_file, read_only_engine

__all__ = [
    "MissingDatabaseError",
    "SchemaState",
    "check_schema",
    "check_state",
    "check_upgradable",
    "ensure_schema",
    "head_revision",
    "inspect_sqlite_file",
    "upgrade_schema",
]


class MissingDatabaseError(SchemaMismatchError):
    """There is no database yet: the file does not exist, or it holds no tables."""


_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: the key of the PostgreSQL advisory lock taken while migrating.
_PG_LOCK_KEY = 0x5741524D


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    """Return the newest schema revision this code knows."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StorageError("no migrations found in the warmstart package")
    return head


@dataclass(frozen=True)
class SchemaState:
    """What a database holds, schema-wise."""

    revision: str | None
    head: str
    tables: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """True when the database has no tables at all."""
        return not self.tables

    @property
    def current(self) -> bool:
        """True when the database is at the newest revision."""
        return self.revision == self.head


def _state(connection: sa.Connection) -> SchemaState:
    tables = tuple(sorted(sa.inspect(connection).get_table_names()))
    revision = None
    if "alembic_version" in tables:
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return SchemaState(revision=revision, head=head_revision(), tables=tables)


def _describe(url: str, state: SchemaState) -> str:
    return f"the database {url}"


def check_schema(connection: sa.Connection, url: str) -> SchemaState:
    """Raise unless the database is a warmstart database at the newest revision.

    Raises:
        MissingDatabaseError: The database holds no tables.
        SchemaMismatchError: Not a warmstart database, outdated, or newer than this code.
    """
    return check_state(_state(connection), url)


def check_state(state: SchemaState, url: str) -> SchemaState:
    """Return ``state`` if it is a warmstart database at the newest revision, else raise.

    Raises:
        MissingDatabaseError: The database holds no tables.
        SchemaMismatchError: Not a warmstart database, outdated, or newer than this code.
    """
    where = _describe(url, state)
    if state.current:
        return state
    if state.revision is None:
        if state.empty:
            raise MissingDatabaseError(
                f"{where} is empty; create it with `warmstart db upgrade --db {url}`"
            )
        shown = ", ".join(state.tables[:6]) + (" ..." if len(state.tables) > 6 else "")
        raise SchemaMismatchError(
            f"{where} is not a warmstart database: it has tables ({shown}) but no warmstart "
            "schema version. Point --db at a new database or an existing warmstart database."
        )
    known = {rev.revision for rev in _scripts().walk_revisions()}
    if state.revision in known:
        raise SchemaMismatchError(
            f"{where} is at schema revision {state.revision}, this warmstart needs "
            f"{state.head}; run `warmstart db upgrade --db {url}` (back it up first)"
        )
    raise SchemaMismatchError(
        f"{where} is at schema revision {state.revision!r}, which this warmstart does not know "
        f"(newest known: {state.head}); it was written by a newer warmstart or another program"
    )


def check_upgradable(state: SchemaState, url: str) -> None:
    """Raise unless ``warmstart db upgrade`` may migrate (or create) this database.

    Raises:
        SchemaMismatchError: Tables but no warmstart version (another program's
            database), or a revision this code does not know.
    """
    foreign = state.revision is None and not state.empty
    unknown = state.revision is not None and state.revision not in {
        rev.revision for rev in _scripts().walk_revisions()
    }
    if foreign or unknown:
        check_state(state, url)


def inspect_sqlite_file(path: Path) -> SchemaState | None:
    """Read the schema state of an existing SQLite file without changing a byte of it.

    Returns:
        The state, or ``None`` when there is no file at ``path``.

    Raises:
        StorageError: ``path`` is a directory, or a file that SQLite cannot read.
    """
    if not path.exists():
        return None
    check_sqlite_file(path)
    engine = read_only_engine(path)
    try:
        with engine.connect() as conn:
            return _state(conn)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StorageError(f"cannot read the SQLite database {path}: {reason}") from exc
    finally:
        engine.dispose()


def _lock(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def upgrade_schema(connection: sa.Connection) -> tuple[str | None, str]:
    """Upgrade (or create) the schema to head inside the caller's write transaction.

    Returns:
        The revision before and after.

    Raises:
        SchemaMismatchError: If the database is not a warmstart database.
    """
    _lock(connection)
    state = _state(connection)
    check_upgradable(state, "given")
    if not state.current:
        command.upgrade(_alembic_config(connection), "head")
    return state.revision, state.head


def ensure_schema(connection: sa.Connection, url: str, *, create: bool) -> SchemaState:
    """Create an empty database at head (when ``create``), else check it is current.

    Must run inside a write transaction: the check and the creation happen
    under one lock, so concurrent openers see either nothing or the full schema.
    """
    _lock(connection)
    state = _state(connection)
    if state.empty and create:
        command.upgrade(_alembic_config(connection), "head")
        return _state(connection)
    return check_schema(connection, url)
