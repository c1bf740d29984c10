"""`warmstart refresh` and `warmstart model list | promote | rollback`: cron's and operators' view.

One real store is built per module (k-NN on three scikit-learn tasks, a first
model published by a refresh with no budget, and two client-reported records);
each test refreshes a copy of it, with real evaluations, real training and the
real gate, against the full scikit-learn suite (two tasks are new).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metamodel.features import FEATURE_VERSION
from metamodel.spaces import config_hash, load_configspace, sample_configs
from metamodel.store import ModelAction, ModelLedger, RecordFilter, RecordStore
from metamodel.types import EvaluationRecord, RecordSource
from service.cli import app
from service.client import WarmstartClient
from service.server import ModelRegistry, store_locator
from tests.service.server.conftest import ADMIN_TOKEN, ServerThread, settings

pytestmark = pytest.mark.slow

runner = CliRunner()
FAST = ["--n-models", "2", "--n-estimators", "30", "--folds", "2", "--workers", "2"]
KNOWN = "sklearn:iris,wine,breast_cancer"


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _serving(store: RecordStore) -> str:
    return next(v.version for v in store.list_model_versions("knn") if v.serving)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with warmstart.db (18 benchmark + 2 client records, v1 serving) and models/."""
    root = tmp_path_factory.mktemp("refresh-base")
    db = f"sqlite:///{root / 'warmstart.db'}"
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
    code, out = _cli(
        "refresh",
        "--space",
        "knn",
        "--suite",
        KNOWN,
        "--budget",
        "0",
        *FAST,
        "--models-dir",
        str(root / "models"),
        "--db",
        db,
    )
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
    return root


@pytest.fixture
def copy(base: Path, tmp_path: Path) -> str:
    """A private copy of the base store (bundles of v1 stay where the base put them)."""
    for name in ("warmstart.db", "warmstart.db-wal", "warmstart.db-shm"):
        if (base / name).exists():
            shutil.copy(base / name, tmp_path / name)
    return f"sqlite:///{tmp_path / 'warmstart.db'}"


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
        code, out = _cli(
            "refresh",
            "--space",
            "knn",
            "--suite",
            "sklearn",
            "--budget",
            "20",
            "--tolerance",
            "1",
            *FAST,
            "--models-dir",
            str(tmp_path / "models"),
            "--notify",
            server.target,
            "--admin-token",
            ADMIN_TOKEN,
            "--db",
            copy,
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
    code, out = _cli(
        "refresh",
        "--space",
        "knn",
        "--suite",
        KNOWN,
        "--budget",
        "3",
        "--tolerance",
        "-1",
        *FAST,
        "--models-dir",
        str(tmp_path / "models"),
        "--db",
        copy,
    )
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
