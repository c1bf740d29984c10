"""`warmstart refresh` and `warmstart model list | promote | rollback`: cron's and operators' view.

One real store is built per module and backend (k-NN on three scikit-learn
tasks, a first model published by a refresh with no budget, and two
client-reported records): a SQLite file, and a PostgreSQL database built by
the same commands. Each test refreshes a private copy of it (a file copy, or a
database created from the built one as a template), with real evaluations,
real training and the real gate, against the full scikit-learn suite (two
tasks are new). The interrupted refreshes run `warmstart refresh` as a process
and stop it with SIGTERM.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import BACKENDS
from tests.service.server.conftest import ADMIN_TOKEN, ServerThread, settings
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.spaces import config_hash, load_configspace, sample_configs
from warmstart.metamodel.store import ModelAction, ModelLedger, RecordFilter, RecordStore
from warmstart.metamodel.types import EvaluationRecord, RecordSource
from warmstart.service.cli import app
from warmstart.service.client import WarmstartClient
from warmstart.service.server import ModelRegistry, store_locator

pytestmark = pytest.mark.slow

runner = CliRunner()
FAST = ["--n-models", "2", "--n-estimators", "30", "--folds", "2", "--workers", "2"]
KNOWN = "sklearn:iris,wine,breast_cancer"
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _refresh_knn(db: str, models: Path, suite: str, *options: str) -> tuple[int, str]:
    """``warmstart refresh`` of the knn space with the fast training settings."""
    return _cli(
        "refresh", "--space", "knn", "--suite", suite, *options, *FAST,
        "--models-dir", str(models), "--db", db,
    )  # fmt: skip


def _serving(store: RecordStore) -> str:
    return next(v.version for v in store.list_model_versions("knn") if v.serving)


def _build_base(db: str, models: Path) -> None:
    """18 benchmark + 2 client records of knn, v1 published by a refresh and serving."""
    code, out = _cli(
        "bench",
        "run",
        "--suite",
        KNOWN,
        "--learners",
        "knn",
        "--configs",
        "6",
        "--folds",
        "2",
        "--workers",
        "2",
        "--db",
        db,
    )
    assert code == 0, out
    code, out = _refresh_knn(db, models, KNOWN, "--budget", "0")
    assert code == 0, out
    assert "no serving model: the first version is published without a comparison" in out
    with RecordStore.open(db) as store:
        space = store.find_space("knn")
        iris = next(t for t in store.list_tasks() if t.name.endswith("iris"))
        configs = sample_configs(load_configspace(space), 2, method="random", seed=99)
        store.add_records(
            EvaluationRecord(
                task_id=iris.task_id,
                space_id=space.space_id,
                config=c,
                config_hash=config_hash(c),
                score=0.9 + i / 100,
                seed=7 + i,  # a seed of its own: never the key of a benchmark record
                source=RecordSource.CLIENT,
                external_id=f"client-{i}",
            )
            for i, c in enumerate(configs)
        )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with warmstart.db (the base store on SQLite) and models/."""
    root = tmp_path_factory.mktemp("refresh-base")
    _build_base(f"sqlite:///{root / 'warmstart.db'}", root / "models")
    return root


def _admin(pg_database: str, *statements: str, drop_sessions_of: str | None = None) -> None:
    engine = sa.create_engine(pg_database, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if drop_sessions_of is not None:  # CREATE ... TEMPLATE and DROP need it unused
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": drop_sessions_of},
                )
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _with_database(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def pg_base(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base store in a PostgreSQL database of its own (the template of the copies)."""
    name = f"{sa.engine.make_url(pg_database).database}_refresh"
    _admin(pg_database, f'CREATE DATABASE "{name}"')
    try:
        _build_base(_with_database(pg_database, name), tmp_path_factory.mktemp("pg-base"))
        yield name
    finally:
        _admin(pg_database, f'DROP DATABASE IF EXISTS "{name}"', drop_sessions_of=name)


@pytest.fixture(params=BACKENDS)
def copy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A private copy of the base store (bundles of v1 stay where the base put them)."""
    if request.param == "sqlite":
        base: Path = request.getfixturevalue("base")
        for name in ("warmstart.db", "warmstart.db-wal", "warmstart.db-shm"):
            if (base / name).exists():
                shutil.copy(base / name, tmp_path / name)
        yield f"sqlite:///{tmp_path / 'warmstart.db'}"
        return
    pg_database: str = request.getfixturevalue("pg_database")
    template: str = request.getfixturevalue("pg_base")
    name = f"{template}_{uuid.uuid4().hex[:8]}"
    _admin(
        pg_database, f'CREATE DATABASE "{name}" TEMPLATE "{template}"', drop_sessions_of=template
    )
    try:
        yield _with_database(pg_database, name)
    finally:
        _admin(pg_database, f'DROP DATABASE IF EXISTS "{name}"', drop_sessions_of=name)


def test_refresh_publishes_notifies_the_server_and_rollback_restores(
    copy: str, tmp_path: Path
) -> None:
    store = RecordStore.open(copy)
    first = _serving(store)
    before = store.count_records(RecordFilter(space_name="knn", source=RecordSource.BENCHMARK))
    models = ModelRegistry(store_locator(store, tmp_path / "none"), feature_version=FEATURE_VERSION)
    models.reload()
    with (
        ServerThread(models, store, settings()) as server,
        WarmstartClient(server.target) as client,
    ):
        assert client.model_info("knn").model_version == first
        code, out = _refresh_knn(
            copy,
            tmp_path / "models",
            "sklearn",
            "--budget",
            "20",
            "--tolerance",
            "1",
            "--notify",
            server.target,
            "--admin-token",
            ADMIN_TOKEN,
        )
        assert code == 0, out
        assert "2 new (no records yet), 3 known" in out
        assert "selected 20 evaluations: 16 new task" in out
        assert "new tasks: diabetes, digits" in out
        assert "20 new records stored" in out
        assert "(benchmark 38, client 2); 2 client-reported records included" in out
        assert "rebuilt exactly (data hash matches)" in out
        assert "gate passed: not worse" in out
        new = _serving(store)
        assert new != first
        assert f"published {new}" in out
        assert f"notified {server.target}: it serves {new} (was {first})" in out
        assert client.model_info("knn").model_version == new
        after = store.count_records(RecordFilter(space_name="knn", source=RecordSource.BENCHMARK))
        assert after == before + 20
        version = store.get_model_version(new)
        assert Path(version.path).is_file()
        assert {"regret@5", "serving_regret@5", "records", "tasks"} <= set(version.metrics)

        code, out = _cli("model", "list", "--db", copy)
        assert code == 0, out
        assert first in out
        assert new in out
        assert "MISSING" not in out
        assert "last refresh of knn" in out
        assert "published" in out

        code, out = _cli(
            "model",
            "rollback",
            "--notify",
            server.target,
            "--admin-token",
            ADMIN_TOKEN,
            "--db",
            copy,
        )
        assert code == 0, out
        assert f"space knn: now serving {first}" in out
        assert f"was {new}" in out
        assert _serving(store) == first
        assert client.model_info("knn").model_version == first
        assert Path(version.path).is_file()  # the rolled-back version's file is kept

        code, out = _cli(
            "model",
            "promote",
            new,
            "--notify",
            server.target,
            "--admin-token",
            ADMIN_TOKEN,
            "--db",
            copy,
        )
        assert code == 0, out
        assert client.model_info("knn").model_version == new
    actions = [e.action for e in ModelLedger(store).events("knn")]
    assert actions[:4] == [
        ModelAction.PROMOTE,
        ModelAction.ROLLBACK,
        ModelAction.REFRESH,
        ModelAction.PUBLISH,
    ]
    store.close()


def test_refresh_refused_by_the_gate_keeps_the_serving_model(copy: str, tmp_path: Path) -> None:
    with RecordStore.open(copy) as store:
        first = _serving(store)
        versions = len(store.list_model_versions())
        records = store.count_records()
    code, out = _refresh_knn(copy, tmp_path / "models", KNOWN, "--budget", "3", "--tolerance", "-1")
    assert code == 3, out
    assert "selected 3 evaluations: " in out
    assert "new task" not in out
    assert "publish gate" in out
    assert "mean regret@5" in out
    assert "refused: worse than allowed (new > serving + tolerance)" in out
    assert "tolerance -1" in out
    assert f"{first} keeps serving" in out
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())
    with RecordStore.open(copy) as store:
        assert _serving(store) == first
        assert len(store.list_model_versions()) == versions
        assert store.count_records() == records + 3
        last = ModelLedger(store).events("knn", actions=[ModelAction.REFRESH], limit=1)[0]
        assert last.detail["outcome"] == "refused"
        assert last.detail["gate"]["passed"] is False
        assert ModelLedger(store).get_lock("refresh:knn") is None  # released


def test_a_second_refresh_waits_for_the_lock(copy: str) -> None:
    with RecordStore.open(copy) as store:
        ModelLedger(store).acquire_lock("refresh:knn", "otherhost:1:abc", 600)
    code, out = _cli("refresh", "--space", "knn", "--suite", KNOWN, "--db", copy)
    assert code == 4, out
    assert "refresh not started: the lock 'refresh:knn' is held by otherhost:1:abc" in out


def test_promote_checks_the_bundle_and_notify_failure_is_reported(
    copy: str, tmp_path: Path
) -> None:
    with RecordStore.open(copy) as store:
        first = store.get_model_version(_serving(store))
    code, out = _cli(
        "model",
        "promote",
        first.version,
        "--notify",
        "127.0.0.1:9",
        "--admin-token",
        ADMIN_TOKEN,
        "--db",
        copy,
    )
    assert code == 0, out
    assert "already serves space knn; no change" in out
    assert "warning: could not notify the server at 127.0.0.1:9" in out
    code, out = _cli("model", "rollback", "--space", "knn", "--db", copy)
    assert code == 1
    assert "nothing to roll back to" in out
    code, out = _cli("model", "promote", "knn-no-such-version", "--db", copy)
    assert code == 1
    assert "no model version 'knn-no-such-version'" in out


def _refresh_process(db: str, models: Path, suite: str, *args: str) -> subprocess.Popen[str]:
    """`warmstart refresh` of knn as a process of its own, stdout and stderr in one pipe."""
    command = [
        sys.executable,
        "-m",
        "warmstart.service.cli",
        "refresh",
        "--space",
        "knn",
        "--suite",
        suite,
    ]
    return subprocess.Popen(
        [*command, *FAST, "--models-dir", str(models), "--db", db, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    """The process's output up to the first line that starts with ``marker``, included."""
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith(marker):
            return "".join(seen)
    code = process.wait()
    raise AssertionError(f"ended with {code} before a line {marker!r}:\n{''.join(seen)}")


def _stop(process: subprocess.Popen[str], head: str) -> tuple[int, str]:
    """SIGTERM, then the exit code and the whole output."""
    assert process.stdout is not None
    process.send_signal(signal.SIGTERM)
    out = head + process.stdout.read()
    return process.wait(timeout=120), out


def _wait_for_records(db: str, more_than: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with RecordStore.open(db) as store:
        while store.count_records() <= more_than:
            assert time.monotonic() < deadline, f"no record stored in {timeout} s"
            time.sleep(0.2)


def _assert_nothing_published(db: str, first: str, versions: int, records: int) -> None:
    with RecordStore.open(db) as store:
        assert _serving(store) == first
        assert len(store.list_model_versions()) == versions
        assert store.count_records() == records
        ledger = ModelLedger(store)
        assert ledger.get_lock("refresh:knn") is None  # released
        last = ledger.events("knn", actions=[ModelAction.REFRESH], limit=1)[0]
        assert last.detail["outcome"] == "interrupted"


def test_sigterm_while_evaluating_keeps_the_records_and_publishes_nothing(
    copy: str, tmp_path: Path
) -> None:
    with RecordStore.open(copy) as store:
        first = _serving(store)
        versions = len(store.list_model_versions())
        before = store.count_records()
    models = tmp_path / "models"
    # 2 new tasks x 100 configs: minutes of evaluations, stopped after the first ones are stored.
    run = _refresh_process(
        copy, models, "sklearn", "--budget", "400", "--new-task-configs", "100", "--tolerance", "1"
    )
    try:
        head = _read_until(run, "running on ")
        assert "evaluations: 200 new task" in head  # and up to 9 on known tasks
        # Meanwhile a second refresh of the space, in another process, finds the lock taken.
        code, out = _cli("refresh", "--space", "knn", "--suite", KNOWN, "--db", copy)
        assert code == 4, out
        assert f"the lock 'refresh:knn' is held by {socket.gethostname()}:{run.pid}:" in out
        _wait_for_records(copy, before, timeout=240)
        code, out = _stop(run, head)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert code == 130, out
    match = re.search(r"interrupted: (\d+) finished evaluations were saved", out)
    assert match is not None, out
    saved = int(match.group(1))
    assert 0 < saved < 200
    assert "nothing was trained or published" in out
    assert "Traceback" not in out
    _assert_nothing_published(copy, first, versions, before + saved)
    with RecordStore.open(copy) as store:
        last = ModelLedger(store).events("knn", actions=[ModelAction.REFRESH], limit=1)[0]
        assert last.detail["evaluations"] == saved
    assert not models.exists() or not list(models.iterdir())

    # The next refresh starts at once, repeats none of the saved evaluations and publishes.
    code, out = _refresh_knn(copy, models, "sklearn", "--budget", "4", "--tolerance", "1")
    assert code == 0, out
    assert "4 new records stored" in out
    with RecordStore.open(copy) as store:
        assert store.count_records() == before + saved + 4
        new = _serving(store)
        assert new != first
        assert f"published {new}" in out


def test_sigterm_while_training_publishes_nothing_and_frees_the_lock(
    copy: str, tmp_path: Path
) -> None:
    with RecordStore.open(copy) as store:
        first = _serving(store)
        versions = len(store.list_model_versions())
        before = store.count_records()
    models = tmp_path / "models"
    # --tolerance -1: had the stop come too late, the gate would refuse (3), never publish.
    run = _refresh_process(copy, models, KNOWN, "--budget", "3", "--tolerance", "-1")
    try:
        head = _read_until(run, "training data: ")  # evaluations done, training next
        code, out = _stop(run, head)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert code == 130, out
    assert "3 new records stored" in out
    assert "interrupted: nothing was published; the evaluations finished so far are kept" in out
    assert "Traceback" not in out
    _assert_nothing_published(copy, first, versions, before + 3)
    assert not models.exists() or not list(models.iterdir())
    code, out = _refresh_knn(copy, models, KNOWN, "--budget", "0")
    assert code in (0, 3), out  # the lock is free: it runs to the gate's verdict


def test_sigterm_while_notifying_ends_the_notice_with_the_version_published(
    copy: str, tmp_path: Path
) -> None:
    # A "server" that takes connections and never answers: the notice waits on it.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    models = tmp_path / "models"
    run = _refresh_process(
        copy, models, KNOWN, "--budget", "3", "--tolerance", "1",
        "--notify", f"127.0.0.1:{port}", "--admin-token", "t",
    )  # fmt: skip
    try:
        head = _read_until(run, "published ")
        time.sleep(1.0)  # into the notice
        code, out = _stop(run, head)
    finally:
        silent.close()
        if run.poll() is None:
            run.kill()
            run.wait()
    assert code == 130, out
    published = re.search(r"^published (\S+) ->", out, re.M)
    assert published is not None, out
    assert f"interrupted while notifying 127.0.0.1:{port}: {published.group(1)} is published" in out
    assert "Traceback" not in out
    with RecordStore.open(copy) as store:
        assert _serving(store) == published.group(1)
        assert ModelLedger(store).get_lock("refresh:knn") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--new-task-configs", "150"],
            "configs per new task and suggestions per task must be <= 100",
        ),
        (["--new-task-configs", "0"], "must be >= 1"),
        (["--budget", "-1"], "the budget must be >= 0 evaluations"),
    ],
)
def test_bad_refresh_options_are_refused_before_anything_runs(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db = f"sqlite:///{tmp_path / 'unused.db'}"
    code, out = _cli("refresh", "--space", "knn", "--suite", "sklearn", "--db", db, *args)
    assert code == 2, out
    assert message in " ".join(out.split())
    assert not (tmp_path / "unused.db").exists() or RecordStore.open(db).count_records() == 0
