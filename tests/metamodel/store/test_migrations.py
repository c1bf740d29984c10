"""Schema revisions: create at head, refuse old or foreign databases, upgrade keeps data."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.factories import make_records, pmlb_tasks, small_space
from warmstart.metamodel.errors import SchemaMismatchError, StorageError
from warmstart.metamodel.store import MissingDatabaseError, ModelLedger, RecordStore, head_revision
from warmstart.metamodel.store._engine import WRITE, create_store_engine
from warmstart.metamodel.store._schema import _alembic_config
from warmstart.metamodel.store._tables import metadata

FIRST = "0001_initial"


def _migrate_to(url: str, revision: str) -> None:
    engine = create_store_engine(url)
    with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        command.upgrade(_alembic_config(conn), revision)
    engine.dispose()


def _insert_first_revision_rows(url: str) -> None:
    """Write a task, a space and a record the way revision 0001 laid them out."""
    task, space = pmlb_tasks(1)[0], small_space()
    record = make_records([task], space, 1)[0]
    now = datetime.now(UTC)
    engine = create_store_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tasks VALUES "
                "(:id, :name, 'binary', 'pmlb', NULL, 10, 2, 2, '{}', :now)"
            ),
            {"id": task.task_id, "name": task.name, "now": now},
        )
        conn.execute(
            sa.text("INSERT INTO search_spaces VALUES (:id, :name, :definition, :now)"),
            {"id": space.space_id, "name": space.name, "definition": space.definition, "now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO records (task_id, space_id, config, config_hash, seed, fidelity, "
                "score, metrics, status, source, created_at) VALUES (:task, :space, :config, "
                ":hash, 0, 1.0, 0.75, '{}', 'ok', 'benchmark', :now)"
            ),
            {
                "task": task.task_id,
                "space": space.space_id,
                "config": json.dumps(dict(record.config)),
                "hash": record.config_hash,
                "now": now,
            },
        )
    engine.dispose()


def test_new_database_is_created_at_head_and_matches_the_tables(store_url: str) -> None:
    with RecordStore.open(store_url) as store:
        assert store.schema.revision == head_revision()
    engine = create_store_engine(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_first_revision_is_refused_then_upgraded_with_its_data(store_url: str) -> None:
    _migrate_to(store_url, FIRST)
    _insert_first_revision_rows(store_url)
    with pytest.raises(SchemaMismatchError) as info:
        RecordStore.open(store_url)
    assert f"at schema revision {FIRST}" in str(info.value)
    assert "run `warmstart db upgrade" in str(info.value)
    assert RecordStore.upgrade(store_url) == (FIRST, head_revision())
    with RecordStore.open(store_url) as store:
        records = store.get_records()
        assert len(records) == 1
        assert records[0].score == 0.75
        assert records[0].external_id is None
        assert store.list_model_versions() == []
        ledger = ModelLedger(store)
        assert ledger.events() == []
        assert ledger.get_lock("refresh:knn") is None
    assert RecordStore.upgrade(store_url) == (head_revision(), head_revision())


def test_empty_database_is_not_created_when_asked_not_to(store_url: str) -> None:
    # SQLite: no file yet; PostgreSQL: a database without tables.
    with pytest.raises(
        MissingDatabaseError,
        match=r"(is empty|there is no database at .*); create it with `warmstart db upgrade",
    ):
        RecordStore.open(store_url, create=False)


def test_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    with pytest.raises(StorageError, match="not a SQLite file at all"):
        RecordStore.open(f"sqlite:///{path}")
    assert path.read_text() == "these are my notes, not a database\n"


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    with pytest.raises(
        SchemaMismatchError, match=r"not a warmstart database: it has tables \(invoices\)"
    ):
        RecordStore.open(f"sqlite:///{path}")
    with pytest.raises(SchemaMismatchError, match="not a warmstart database"):
        RecordStore.upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["invoices"]


def test_unknown_revision_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'future.db'}"
    RecordStore.open(url).close()
    with sqlite3.connect(tmp_path / "future.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(SchemaMismatchError, match="newer warmstart or another program"):
        RecordStore.open(url)


def _rollback_journal_db(path: Path, revision: str | None) -> Path:
    """A SQLite file in the default (rollback) journal mode, as another program leaves it:
    ``revision`` ``None`` holds a foreign table, else warmstart's schema at that revision."""
    if revision is None:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
            conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
        return path
    engine = sa.create_engine(f"sqlite:///{path}")  # no WAL: not warmstart's engine
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), FIRST)
        if revision != FIRST:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()
    return path


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        (None, "not a warmstart database"),
        (FIRST, f"at schema revision {FIRST}"),
        ("0099_from_the_future", "newer warmstart or another program"),
    ],
    ids=["foreign", "older", "newer"],
)
def test_a_refused_sqlite_file_is_left_byte_for_byte(
    tmp_path: Path, revision: str | None, message: str
) -> None:
    path = _rollback_journal_db(tmp_path / "other.db", revision)
    before = path.read_bytes()
    assert before[18:20] == b"\x01\x01"  # rollback journal, not WAL
    url = f"sqlite:///{path}"
    attempts = [
        lambda: RecordStore.open(url),
        lambda: RecordStore.open(url, create=False),
        lambda: RecordStore.check(url),
    ]
    if revision != FIRST:  # an older warmstart database is what `db upgrade` is for
        attempts.append(lambda: RecordStore.upgrade(url))
    for attempt in attempts:
        with pytest.raises(SchemaMismatchError, match=message):
            attempt()
        assert path.read_bytes() == before


def test_a_missing_database_is_not_created_when_asked_not_to(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "x.db"
    for attempt in (
        lambda: RecordStore.open(f"sqlite:///{path}", create=False),
        lambda: RecordStore.check(f"sqlite:///{path}"),
    ):
        with pytest.raises(MissingDatabaseError, match=f"there is no database at {path}"):
            attempt()
    assert not (tmp_path / "no").exists()


def test_unsupported_urls_say_what_is_supported() -> None:
    from warmstart.metamodel.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="supports sqlite:///PATH and postgresql"):
        RecordStore.open("mysql://root@localhost/test")
    with pytest.raises(InvalidRequestError, match="not a database URL"):
        RecordStore.open("::::")
