"""The `warmstart db` and `records` commands, as a user runs them.

That `quickstart` creates the default database (``$WARMSTART_HOME/warmstart.db``, at the
newest schema) is checked on tests/service/test_quickstart.py's first start, which runs the
same command on a fresh home.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.factories import make_records, pmlb_tasks, small_space
from warmstart.metamodel.store import RecordStore
from warmstart.service.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WARMSTART_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WARMSTART_DB", raising=False)
    return tmp_path / "home"


def test_db_upgrade_check_and_stats(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert first.exit_code == 0
    assert f"created {url}" in first.output
    again = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert "already at the newest" in again.output
    assert runner.invoke(app, ["db", "check", "--db", url]).exit_code == 0
    with RecordStore.open(url) as store:
        tasks, space = pmlb_tasks(2), small_space()
        store.add_all(tasks=tasks, spaces=[space], records=make_records(tasks, space, 5))
    stats = runner.invoke(app, ["db", "stats", "--db", url, "--json"])
    assert stats.exit_code == 0
    assert json.loads(stats.output)["records_by_space"] == {"svm_like": 10}


def test_db_commands_refuse_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    for command in (["db", "check"], ["db", "stats"], ["db", "upgrade"]):
        result = runner.invoke(app, [*command, "--db", str(path)])
        assert result.exit_code != 0
        assert "not a warmstart database" in result.output
        assert "Traceback" not in result.output
    assert path.read_text() == "hello"


def test_stats_on_a_missing_database_says_how_to_create_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "stats", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "warmstart db upgrade" in result.output


def test_records_export_and_import(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    with RecordStore.open(source) as store:
        tasks, space = pmlb_tasks(3), small_space()
        store.add_all(tasks=tasks, spaces=[space], records=make_records(tasks, space, 4))
    path = tmp_path / "out.parquet"
    exported = runner.invoke(app, ["records", "export", str(path), "--db", source])
    assert exported.exit_code == 0, exported.output
    assert "wrote 12 records" in exported.output
    imported = runner.invoke(app, ["records", "import", str(path), "--db", target])
    assert imported.exit_code == 0, imported.output
    assert "12 new records, 3 new tasks, 1 new spaces" in imported.output
    again = runner.invoke(app, ["records", "import", str(path), "--db", target])
    assert "0 new records" in again.output


def test_records_import_of_a_bad_file_names_rows_and_stores_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    space = small_space()
    frame = pd.DataFrame(
        {
            "task_name": ["t1", "t1"],
            "task_type": ["binary", "binary"],
            "space_name": [space.name] * 2,
            "space_definition": [space.definition] * 2,
            "config": ['{"C": 1.0, "kernel": "linear", "shrinking": true}', '{"C": "big"}'],
            "status": ["ok", "ok"],
            "score": [0.9, 0.8],
        }
    )
    path = tmp_path / "in.parquet"
    frame.to_parquet(path)
    result = runner.invoke(app, ["records", "import", str(path), "--db", url])
    assert result.exit_code == 2
    assert "row 1: parameter 'C' must be a number in [0.001, 1000.0], log scale, got 'big'" in (
        result.output
    )
    assert "nothing was imported" in result.output
    with RecordStore.open(url) as store:
        assert store.count_records() == 0
    skipped = runner.invoke(app, ["records", "import", str(path), "--db", url, "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output
    assert "1 new records" in skipped.output
    assert (tmp_path / "in.rejects.parquet").is_file()


def test_export_path_must_be_parquet(tmp_path: Path) -> None:
    result = runner.invoke(app, ["records", "export", str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "must end in .parquet" in result.output
