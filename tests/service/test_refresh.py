"""The refresh workflow (:func:`refresh_space`), and `warmstart refresh | model` as cron runs them.

One real store is built per module and backend (k-NN on three scikit-learn
tasks, a first model published by a refresh with no budget, and two
client-reported records): a SQLite file, and a PostgreSQL database built the
same way. Each test refreshes a private copy of it (a file copy, or a database
created from the built one as a template), with real evaluations, real
training and the real gate, against the full scikit-learn suite (two tasks
are new). The workflow's behaviours are tested on the library; the command
line's tests check its output, exit codes, and what only a process shows:
SIGTERM while training or while notifying a server.
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
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import BACKENDS
from tests.service.server.conftest import ADMIN_TOKEN, ServerThread, settings
from warmstart.benchmarks.runner import JobResult, PlanSpec, Protocol, run_spec
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.refresh import GateSettings, SelectionSettings, TrainingSnapshot
from warmstart.metamodel.spaces import config_hash, load_configspace, sample_configs
from warmstart.metamodel.store import (
    LockBusyError,
    ModelAction,
    ModelLedger,
    RecordFilter,
    RecordStore,
    StoreLock,
)
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import EvaluationRecord, RecordSource
from warmstart.service.cli import app
from warmstart.service.client import WarmstartClient
from warmstart.service.refresh import (
    RefreshObserver,
    RefreshOptions,
    RefreshOutcome,
    RefreshPlan,
    holder_is_dead,
    refresh_space,
)
from warmstart.service.server import ModelRegistry, store_locator

pytestmark = pytest.mark.slow

runner = CliRunner()
FAST = ["--n-models", "2", "--n-estimators", "30", "--folds", "2", "--workers", "2"]
KNOWN = "sklearn:iris,wine,breast_cancer"
ROOT = Path(__file__).resolve().parents[2]


def _options(suite: str, models: Path, budget: int, tolerance: float = 0.0) -> RefreshOptions:
    """A refresh of the knn space with the fast training settings (FAST, as a library call)."""
    train = TrainSettings(SurrogateParams(n_models=2, n_estimators=30))
    return RefreshOptions(
        space="knn",
        suite=suite,
        models_dir=models,
        selection=SelectionSettings(budget=budget),
        gate=GateSettings(tolerance=tolerance, train=train),
        protocol=Protocol(folds=2),
        workers=2,
    )


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _serving(store: RecordStore) -> str:
    return next(v.version for v in store.list_model_versions("knn") if v.serving)


def _build_base(db: str, models: Path) -> None:
    """18 benchmark + 2 client records of knn, v1 published by a refresh and serving."""
    with RecordStore.open(db) as store:
        spec = PlanSpec(suite=KNOWN, learners=["knn"], n_configs=6, protocol=Protocol(folds=2))
        run_spec(store, spec, workers=2, dask=None, time_limit=300.0, memory_limit=4096)
        first = refresh_space(store, _options(KNOWN, models, budget=0))
        assert first.outcome is RefreshOutcome.PUBLISHED, first.reason
        assert (
            first.reason == "no serving model: the first version is published without a comparison"
        )
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


def _sqlite_copy(base: Path, folder: Path) -> str:
    for name in ("warmstart.db", "warmstart.db-wal", "warmstart.db-shm"):
        if (base / name).exists():
            shutil.copy(base / name, folder / name)
    return f"sqlite:///{folder / 'warmstart.db'}"


@pytest.fixture(params=BACKENDS)
def copy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A private copy of the base store (bundles of v1 stay where the base put them)."""
    if request.param == "sqlite":
        yield _sqlite_copy(request.getfixturevalue("base"), tmp_path)
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


@pytest.fixture
def sqlite_copy(base: Path, tmp_path: Path) -> str:
    """A private SQLite copy of the base store, for the command-line tests."""
    return _sqlite_copy(base, tmp_path)


def _last_refresh(store: RecordStore) -> Mapping[str, Any]:
    return ModelLedger(store).events("knn", actions=[ModelAction.REFRESH], limit=1)[0].detail


class _StopAt(RefreshObserver):
    """Raises KeyboardInterrupt (as Ctrl-C would) at one step of the refresh."""

    def __init__(self, step: str, after_results: int = 0) -> None:
        self.step, self.after_results, self.results = step, after_results, 0

    def planned(self, plan: RefreshPlan) -> None:
        if self.step == "planned":
            raise KeyboardInterrupt

    def result(self, result: JobResult) -> None:
        self.results += 1
        if self.step == "evaluating" and self.results == self.after_results:
            raise KeyboardInterrupt

    def training(self, snapshot: TrainingSnapshot) -> None:
        if self.step == "training":
            raise KeyboardInterrupt


def test_refresh_publishes_then_finds_nothing_new(copy: str, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with RecordStore.open(copy) as store:
        first = _serving(store)
        before = store.count_records(RecordFilter(space_name="knn", source=RecordSource.BENCHMARK))
        result = refresh_space(store, _options("sklearn", models, budget=20, tolerance=1.0))
        assert result.outcome is RefreshOutcome.PUBLISHED, result.reason
        plan = result.plan
        assert plan is not None
        assert plan.serving == first
        assert (len(plan.new_tasks), len(plan.known_tasks)) == (2, 3)
        assert plan.reasons()["new task"] == 16
        assert plan.new_task_names() == ["diabetes", "digits"]
        assert result.evaluations == 20
        assert result.records == before + 20 + 2  # every source: the client records included
        assert result.served is not None
        assert result.served.hash_matches is True
        assert result.gate is not None
        assert result.gate.passed
        assert result.reason.startswith("gate passed: not worse")
        published = result.published
        assert published is not None
        assert published.version != first
        assert _serving(store) == published.version
        assert Path(published.path).parent == models
        assert Path(published.path).is_file()
        assert {"regret@5", "serving_regret@5", "records", "tasks"} <= set(published.metrics)
        assert _last_refresh(store)["outcome"] == "published"
        made = ModelLedger(store).events("knn", actions=[ModelAction.PUBLISH], limit=1)[0]
        assert made.detail["max_record_id"] == max(
            r.record_id or 0 for r in store.get_records(RecordFilter(space_name="knn"))
        )
        # Nothing evaluated since: the records are those the new version was trained on.
        again = refresh_space(store, _options("sklearn", models, budget=0))
        assert again.outcome is RefreshOutcome.UP_TO_DATE, again.reason
        assert again.trained is None
        assert again.gate is None
        assert again.published is None
        assert again.reason.startswith(
            f"nothing new to learn: the records are those {published.version}"
        )
        assert _serving(store) == published.version
        assert _last_refresh(store)["outcome"] == "up to date"
        assert ModelLedger(store).get_lock("refresh:knn") is None


def test_the_gate_refuses_a_worse_model_and_the_serving_model_stays(
    copy: str, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    with RecordStore.open(copy) as store:
        first = _serving(store)
        versions = len(store.list_model_versions())
        records = store.count_records()
        result = refresh_space(store, _options(KNOWN, models, budget=3, tolerance=-1.0))
        assert result.outcome is RefreshOutcome.REFUSED
        assert result.plan is not None
        assert not result.plan.new_tasks
        assert result.evaluations == 3
        assert store.count_records() == records + 3
        assert result.trained is not None
        assert result.published is None
        assert result.gate is not None
        assert not result.gate.passed
        assert result.reason.startswith("refused: worse than allowed (new > serving + tolerance)")
        assert result.reason.endswith(f"{first} keeps serving")
        assert _serving(store) == first
        assert len(store.list_model_versions()) == versions
        detail = _last_refresh(store)
        assert detail["outcome"] == "refused"
        assert detail["gate"]["passed"] is False
        assert ModelLedger(store).get_lock("refresh:knn") is None
    assert not models.exists() or not list(models.iterdir())


def test_interrupted_while_evaluating_keeps_the_records_and_the_next_run_goes_on(
    sqlite_copy: str, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    options = replace(_options("sklearn", models, budget=12, tolerance=1.0), workers=1)
    with RecordStore.open(sqlite_copy) as store:
        first, versions, before = (
            _serving(store),
            len(store.list_model_versions()),
            store.count_records(),
        )
        result = refresh_space(store, options, _StopAt("evaluating", after_results=2))
        assert result.outcome is RefreshOutcome.INTERRUPTED
        assert result.run is not None
        assert result.run.interrupted
        saved = result.evaluations
        assert 2 <= saved < 12
        assert result.reason.startswith(f"interrupted: {saved} finished evaluations were saved")
        assert result.trained is None
        assert result.published is None
        assert store.count_records() == before + saved
        assert _serving(store) == first
        assert len(store.list_model_versions()) == versions
        assert _last_refresh(store) == {"outcome": "interrupted", "evaluations": saved}
        assert ModelLedger(store).get_lock("refresh:knn") is None
        # The next refresh repeats none of the saved evaluations (stopped before training).
        saved_keys = {
            (r.task_id, r.config_hash) for r in store.get_records(RecordFilter(space_name="knn"))
        }
        again = refresh_space(
            store,
            replace(options, selection=SelectionSettings(budget=4)),
            _StopAt("training"),
        )
        assert again.plan is not None
        assert not {(c.task_id, c.config_hash) for c in again.plan.candidates} & saved_keys
        assert again.evaluations == 4
        assert store.count_records() == before + saved + 4
    assert not models.exists() or not list(models.iterdir())


def test_interrupted_while_training_publishes_nothing(sqlite_copy: str, tmp_path: Path) -> None:
    with RecordStore.open(sqlite_copy) as store:
        first, records = _serving(store), store.count_records()
        options = _options(KNOWN, tmp_path / "models", budget=3, tolerance=1.0)
        result = refresh_space(store, options, _StopAt("training"))
        assert result.outcome is RefreshOutcome.INTERRUPTED
        assert result.evaluations == 3
        assert store.count_records() == records + 3
        assert result.reason == (
            "interrupted: nothing was published; the evaluations finished so far are kept"
        )
        assert result.trained is None
        assert result.published is None
        assert _serving(store) == first
        assert _last_refresh(store) == {"outcome": "interrupted"}
        assert ModelLedger(store).get_lock("refresh:knn") is None


def test_a_lock_held_elsewhere_stops_the_refresh_before_anything(copy: str, tmp_path: Path) -> None:
    with RecordStore.open(copy) as store:
        ModelLedger(store).acquire_lock("refresh:knn", "otherhost:1:abc", 600)
        records, events = store.count_records(), len(ModelLedger(store).events("knn"))
        with pytest.raises(LockBusyError, match="held by otherhost:1:abc"):
            refresh_space(store, _options(KNOWN, tmp_path / "models", budget=3))
        assert store.count_records() == records
        assert len(ModelLedger(store).events("knn")) == events
        assert ModelLedger(store).get_lock("refresh:knn").holder == "otherhost:1:abc"  # type: ignore[union-attr]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_left_by_a_dead_process_of_this_host_is_taken_over(
    sqlite_copy: str, tmp_path: Path
) -> None:
    holder = f"{socket.gethostname()}:{_dead_pid()}:abcd1234"
    with RecordStore.open(sqlite_copy) as store:
        ModelLedger(store).acquire_lock("refresh:knn", holder, 600)
        result = refresh_space(
            store, _options(KNOWN, tmp_path / "models", budget=3), _StopAt("planned")
        )
        assert result.outcome is RefreshOutcome.INTERRUPTED
        assert ModelLedger(store).get_lock("refresh:knn") is None


def test_holder_is_dead_only_for_a_gone_process_of_this_host() -> None:
    def lock(holder: str) -> StoreLock:
        now = datetime.now(UTC)  # the times play no part in the judgement
        return StoreLock("refresh:knn", holder, now, now)

    here = socket.gethostname()
    assert holder_is_dead(lock(f"{here}:{_dead_pid()}:x"))
    assert not holder_is_dead(lock(f"{here}:{os.getpid()}:x"))
    assert not holder_is_dead(lock(f"not-{here}:{_dead_pid()}:x"))
    assert not holder_is_dead(lock("no pid here"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workers": 0}, "workers must be >= 1"),
        ({"lock_ttl": 0.0}, "the lock's lease must be > 0 s"),
        ({"protocol": Protocol(folds=1)}, "CV folds must be >= 2"),
        ({"selection": SelectionSettings(budget=-1)}, "the budget must be >= 0 evaluations"),
        ({"gate": GateSettings(k=0)}, "k must be >= 1"),
    ],
)
def test_bad_options_are_refused_before_the_store_is_touched(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    options = replace(_options(KNOWN, tmp_path / "models", budget=3), **change)  # type: ignore[arg-type]
    with RecordStore.open(f"sqlite:///{tmp_path / 'unused.db'}") as store:
        with pytest.raises(InvalidRequestError, match=re.escape(message)):
            refresh_space(store, options)
        assert ModelLedger(store).get_lock("refresh:knn") is None
        assert ModelLedger(store).events() == []


# The command line: output, exit codes, and the process-level stops (SQLite only: the
# backends' differences are the library's, tested above).


def _refresh_knn(db: str, models: Path, suite: str, *options: str) -> tuple[int, str]:
    """``warmstart refresh`` of the knn space with the fast training settings."""
    return _cli(
        "refresh", "--space", "knn", "--suite", suite, *options, *FAST,
        "--models-dir", str(models), "--db", db,
    )  # fmt: skip


def test_cli_refresh_prints_each_step_notifies_the_server_and_rollback_restores(
    sqlite_copy: str, tmp_path: Path
) -> None:
    store = RecordStore.open(sqlite_copy)
    first = _serving(store)
    models = ModelRegistry(store_locator(store, tmp_path / "none"), feature_version=FEATURE_VERSION)
    models.reload()
    with (
        ServerThread(models, store, settings()) as server,
        WarmstartClient(server.target) as client,
    ):
        code, out = _refresh_knn(
            sqlite_copy, tmp_path / "models", "sklearn", "--budget", "20", "--tolerance", "1",
            "--notify", server.target, "--admin-token", ADMIN_TOKEN,
        )  # fmt: skip
        assert code == 0, out
        assert "2 new (no records yet), 3 known" in out
        assert "selected 20 evaluations: 16 new task" in out
        assert "new tasks: diabetes, digits" in out
        assert "20 new records stored" in out
        assert "(benchmark 38, client 2); 2 client-reported records included" in out
        assert "rebuilt exactly (data hash matches)" in out
        assert "publish gate" in out
        assert "mean regret@5" in out
        assert "gate passed: not worse" in out
        new = _serving(store)
        assert f"published {new}" in out
        assert f"notified {server.target}: it serves {new} (was {first})" in out
        assert client.model_info("knn").model_version == new

        code, out = _cli("model", "list", "--db", sqlite_copy)
        assert code == 0, out
        assert first in out
        assert new in out
        assert "MISSING" not in out
        assert "last refresh of knn" in out
        assert "published" in out

        notify = ["--notify", server.target, "--admin-token", ADMIN_TOKEN, "--db", sqlite_copy]
        code, out = _cli("model", "rollback", *notify)
        assert code == 0, out
        assert f"space knn: now serving {first}" in out
        assert f"was {new}" in out
        assert client.model_info("knn").model_version == first
        assert Path(store.get_model_version(new).path).is_file()  # the rolled-back file stays

        code, out = _cli("model", "promote", new, *notify)
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


def test_cli_a_second_refresh_exits_4_while_the_lock_is_held(sqlite_copy: str) -> None:
    with RecordStore.open(sqlite_copy) as store:
        ModelLedger(store).acquire_lock("refresh:knn", "otherhost:1:abc", 600)
    code, out = _cli("refresh", "--space", "knn", "--suite", KNOWN, "--db", sqlite_copy)
    assert code == 4, out
    assert "refresh not started: the lock 'refresh:knn' is held by otherhost:1:abc" in out


def test_promote_checks_the_bundle_and_notify_failure_is_reported(sqlite_copy: str) -> None:
    with RecordStore.open(sqlite_copy) as store:
        first = store.get_model_version(_serving(store))
    code, out = _cli(
        "model", "promote", first.version, "--notify", "127.0.0.1:9",
        "--admin-token", ADMIN_TOKEN, "--db", sqlite_copy,
    )  # fmt: skip
    assert code == 0, out
    assert "already serves space knn; no change" in out
    assert "warning: could not notify the server at 127.0.0.1:9" in out
    code, out = _cli("model", "rollback", "--space", "knn", "--db", sqlite_copy)
    assert code == 1
    assert "nothing to roll back to" in out
    code, out = _cli("model", "promote", "knn-no-such-version", "--db", sqlite_copy)
    assert code == 1
    assert "no model version 'knn-no-such-version'" in out


def _refresh_process(db: str, models: Path, suite: str, *args: str) -> subprocess.Popen[str]:
    """`warmstart refresh` of knn as a process of its own, stdout and stderr in one pipe."""
    command = [sys.executable, "-m", "warmstart.service.cli", "refresh", "--space", "knn"]
    return subprocess.Popen(
        [*command, "--suite", suite, *FAST, "--models-dir", str(models), "--db", db, *args],
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


def test_cli_sigterm_while_training_exits_130_then_the_gate_refuses_with_3(
    sqlite_copy: str, tmp_path: Path
) -> None:
    with RecordStore.open(sqlite_copy) as store:
        first, before = _serving(store), store.count_records()
    models = tmp_path / "models"
    # --tolerance -1: had the stop come too late, the gate would refuse (3), never publish.
    run = _refresh_process(sqlite_copy, models, KNOWN, "--budget", "3", "--tolerance", "-1")
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
    with RecordStore.open(sqlite_copy) as store:
        assert _serving(store) == first
        assert store.count_records() == before + 3
        assert ModelLedger(store).get_lock("refresh:knn") is None
        assert _last_refresh(store)["outcome"] == "interrupted"
    # The lock is free: the next refresh runs to the gate's verdict, a refusal.
    code, out = _refresh_knn(sqlite_copy, models, KNOWN, "--budget", "0", "--tolerance", "-1")
    assert code == 3, out
    assert "publish gate" in out
    assert "refused: worse than allowed (new > serving + tolerance)" in out
    assert f"{first} keeps serving" in out
    assert not models.exists() or not list(models.iterdir())


def test_cli_sigterm_while_notifying_ends_the_notice_with_the_version_published(
    sqlite_copy: str, tmp_path: Path
) -> None:
    # A "server" that takes connections and never answers: the notice waits on it.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    run = _refresh_process(
        sqlite_copy, tmp_path / "models", KNOWN, "--budget", "3", "--tolerance", "1",
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
    with RecordStore.open(sqlite_copy) as store:
        assert _serving(store) == published.group(1)
        assert ModelLedger(store).get_lock("refresh:knn") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--new-task-configs", "150"],
            "configs per new task and suggestions per task must be <= 100",
        ),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--budget", "-1"], "the budget must be >= 0 evaluations"),
    ],
)
def test_cli_bad_refresh_options_exit_2_before_the_store_is_opened(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db = f"sqlite:///{tmp_path / 'unused.db'}"
    code, out = _cli("refresh", "--space", "knn", "--suite", "sklearn", "--db", db, *args)
    assert code == 2, out
    assert message in " ".join(out.split())
    assert not (tmp_path / "unused.db").exists()
