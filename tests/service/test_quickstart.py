"""Setting up from the knowledge base: `warmstart quickstart` as `make run` runs it, the
library's set-up (:mod:`warmstart.service.setup`), and the features CLI.

The shipped knowledge base (``kb/``) is imported once per module into a temporary
``WARMSTART_HOME``; later tests work on copies of that directory, so the module
stays well under a minute on a busy two-core machine.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from warmstart.benchmarks.kb import KnowledgeBase, default_kb_dir
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import ModelLedger, RecordStore, head_revision
from warmstart.service.cli import app
from warmstart.service.client import WarmstartClient
from warmstart.service.setup import register_bundles, set_up_knowledge_base

runner = CliRunner()
KB = KnowledgeBase.locate()
REPO = Path(__file__).resolve().parents[2]
# What kb/provenance.json says was shipped; the tests check quickstart loads exactly that.
PROVENANCE = json.loads((REPO / "kb" / "provenance.json").read_text())
SPACES = sorted(PROVENANCE["spaces"])
KB_RECORDS = sum(space["records"] for space in PROVENANCE["spaces"].values())
KB_TASKS = 221  # the distinct tasks of pmlb (213) and pmlb-large (8): every one has meta-features
KB_PROBED = 936  # the tasks of the seven probed spaces, each space counted apart


def _env(home: Path) -> dict[str, str | None]:
    """Environment of a command on ``home``: no database or model overrides from outside."""
    return {"WARMSTART_HOME": str(home), "WARMSTART_DB": None, "WARMSTART_MODEL": None}


def _store(home: Path) -> RecordStore:
    return RecordStore.open(f"sqlite:///{home / 'warmstart.db'}", create=False)


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data directory after one `quickstart --no-serve`, and that run's output."""
    home = tmp_path_factory.mktemp("home")
    result = runner.invoke(app, ["quickstart", "--no-serve"], env=_env(home))
    assert result.exit_code == 0, result.output
    return home, result.output


def _copy(home: Path, tmp_path: Path) -> Path:
    """A copy of a data directory, with its model versions pointing into the copy."""
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    with sqlite3.connect(copy / "warmstart.db") as conn:
        conn.execute("UPDATE model_versions SET path = replace(path, ?, ?)", (str(home), str(copy)))
    return copy


def test_the_knowledge_base_ships_with_the_source_tree() -> None:
    assert default_kb_dir() == REPO / "kb"
    assert [p.name for p in KB.bundles] == [f"{s}.wsb" for s in SPACES]
    size = sum(p.stat().st_size for p in KB.root.rglob("*") if p.is_file())
    assert size < 40 * 2**20


def test_first_start_imports_the_knowledge_base_and_registers_every_model(
    first_start: tuple[Path, str],
) -> None:
    home, output = first_start
    assert "first start: importing the knowledge base" in output
    assert f"records: {KB_RECORDS} new, {KB_TASKS} new tasks, {len(SPACES)} new spaces" in output
    assert f"meta-features: {KB_TASKS} tasks described" in output
    assert f"learner probes of {KB_PROBED} (task, space) pairs" in output
    assert "warmstart is ready" in output
    # The default database, at the newest schema (test_cli_db.py relies on this check).
    assert (home / "warmstart.db").is_file()
    assert head_revision() in output
    with _store(home) as store:
        assert store.count_records() == KB_RECORDS
        assert len(store.list_task_features(FEATURE_VERSION)) == KB_TASKS
        versions = store.list_model_versions()
    assert sorted(v.space_name for v in versions) == SPACES
    assert all(v.serving for v in versions)
    for version in versions:  # self-contained: the bundles were copied into the data dir
        path = Path(version.path)
        assert path.parent == (home / "models").resolve()
        assert path.read_bytes() == (KB.root / "models" / f"{version.space_name}.wsb").read_bytes()


def test_a_second_start_imports_and_registers_nothing(
    first_start: tuple[Path, str], tmp_path: Path
) -> None:
    home = _copy(first_start[0], tmp_path)
    with _store(home) as store:
        events = len(ModelLedger(store).events(SPACES[0]))
    result = runner.invoke(app, ["quickstart", "--no-serve"], env=_env(home))
    assert result.exit_code == 0, result.output
    assert "already set up, nothing to import or register" in result.output
    assert "first start" not in result.output
    with _store(home) as store:
        assert store.count_records() == KB_RECORDS
        assert len(store.list_task_features(FEATURE_VERSION)) == KB_TASKS
        assert len(store.list_model_versions()) == len(SPACES)
        assert len(ModelLedger(store).events(SPACES[0])) == events
    assert len(list((home / "models").iterdir())) == len(SPACES)


def test_a_set_up_interrupted_after_the_records_is_completed(
    first_start: tuple[Path, str], tmp_path: Path
) -> None:
    home = _copy(first_start[0], tmp_path)
    with sqlite3.connect(home / "warmstart.db") as conn:  # as if stopped after the records
        conn.execute("DELETE FROM task_features")
        conn.execute("DELETE FROM model_events")
        conn.execute("DELETE FROM model_versions")
    shutil.rmtree(home / "models")
    with _store(home) as store:
        report = set_up_knowledge_base(store, KB, home / "models")
        assert report.records is None  # the store had records: not imported again
        assert report.features.new_by_version[FEATURE_VERSION] == KB_TASKS
        assert sorted(m.space for m in report.models) == SPACES
        assert all(m.registered and m.serving == m.version for m in report.models)
        assert report.changed
        assert store.count_records() == KB_RECORDS
        assert len(store.list_task_features(FEATURE_VERSION)) == KB_TASKS
        assert sorted(v.space_name for v in store.list_model_versions() if v.serving) == SPACES


def test_a_bundle_that_does_not_load_is_skipped_and_nothing_registered(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wsb"
    broken.write_bytes(b"not a bundle")
    with RecordStore.open(f"sqlite:///{tmp_path / 'warmstart.db'}") as store:
        registered, skipped = register_bundles(store, [broken], tmp_path / "models")
        assert registered == []
        assert list(skipped) == [broken]
        assert store.list_model_versions() == []
    assert not (tmp_path / "models").exists()


def test_a_missing_knowledge_base_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["quickstart", "--no-serve", "--kb", str(tmp_path / "nowhere")], env=_env(tmp_path)
    )
    assert result.exit_code == 1
    assert "no knowledge base folder at" in result.output
    assert "pip install -e ." in result.output


def test_features_export_then_import_and_bad_files(
    first_start: tuple[Path, str], tmp_path: Path
) -> None:
    home = first_start[0]
    exported = tmp_path / "features.parquet"
    result = runner.invoke(app, ["features", "export", str(exported)], env=_env(home))
    assert result.exit_code == 0, result.output
    assert f"of {KB_TASKS} tasks" in result.output

    fresh = tmp_path / "fresh"
    db = ["--db", str(fresh / "warmstart.db")]
    refused = runner.invoke(app, ["features", "import", str(exported), *db], env=_env(fresh))
    assert refused.exit_code == 2
    assert "is not stored; import its records first" in refused.output
    assert "nothing was imported" in refused.output
    for bad, message in [
        (KB.records, "lacks required column"),
        (REPO / "README.md", "not a readable Parquet file"),
        (tmp_path / "nowhere.parquet", "no such file"),
    ]:
        result = runner.invoke(app, ["features", "import", str(bad), *db], env=_env(fresh))
        assert result.exit_code == 2, result.output
        assert message in result.output
    with RecordStore.open(f"sqlite:///{fresh / 'warmstart.db'}") as store:
        assert store.list_task_features(FEATURE_VERSION) == {}
        assert runner.invoke(app, ["records", "import", str(KB.records), *db]).exit_code == 0
        result = runner.invoke(app, ["features", "import", str(exported), *db], env=_env(fresh))
        assert result.exit_code == 0, result.output
        assert f"{KB_TASKS} tasks' meta-features new" in result.output
        with _store(home) as original:
            assert store.list_task_features(FEATURE_VERSION) == original.list_task_features(
                FEATURE_VERSION
            )
    shipped = pq.read_table(KB.features)  # the meta-features, then the learner probes
    meta = shipped.filter(pc.equal(shipped["version"], FEATURE_VERSION))
    assert pq.read_table(exported).equals(meta)  # shipped: this export


def _lines(stream: object, sink: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sink.put(line)


@pytest.fixture
def served(first_start: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`warmstart quickstart --port 0` in a child process: its address and output so far."""
    home = _copy(first_start[0], tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("WARMSTART_DB", "WARMSTART_MODEL")}
    env["WARMSTART_HOME"] = str(home)
    command = [sys.executable, "-m", "warmstart.service.cli", "quickstart", "--host", "127.0.0.1"]
    child = subprocess.Popen(
        [*command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(child.stdout, lines), daemon=True).start()
    seen: list[str] = []
    # A wait, not a measurement: loading the eight bundles takes about 25 s on a quiet
    # 2-core host and twice that beside other jobs.
    deadline = time.monotonic() + 120
    address = None
    try:
        while address is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            found = re.search(r"warmstart listening on (\S+:\d+)", line)
            address = found.group(1) if found else None
        assert address is not None, "".join(seen)
        while True:  # the lines _announce prints right after, e.g. the served models
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                break
        yield address, "".join(seen)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            assert child.wait(timeout=20) == 0
        finally:
            if child.poll() is None:
                child.kill()


def test_quickstart_serves_the_shipped_models(
    served: tuple[str, str], first_start: tuple[Path, str]
) -> None:
    address, output = served
    assert "warmstart suggest --data" in output
    assert "--server 127.0.0.1:PORT" in output
    for space in SPACES:
        assert f"serving space {space}: model {space}-" in output
    with _store(first_start[0]) as store:
        task = store.list_tasks()[0]
        features = store.get_task_features(task.task_id, FEATURE_VERSION)
    with WarmstartClient(address, timeout=10) as client:
        started = time.perf_counter()
        answer = client.suggest(
            features.as_dict(), "lightgbm", k=5, feature_version=FEATURE_VERSION
        )
        elapsed = time.perf_counter() - started
    assert len(answer.suggestions) == 5
    assert answer.model_version.startswith("lightgbm-")
    assert elapsed < 5  # "well under a second" on an idle machine; slack for a busy CI box
