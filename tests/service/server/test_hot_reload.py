"""A new model swaps in under load with no failed call: by ReloadModel and by the file watcher."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.service.server.conftest import ADMIN_TOKEN, ServerThread, seed_store, settings, variant
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.service.client import FailedPreconditionRpcError, WarmstartClient
from warmstart.service.server import ModelRegistry, bundle_files

TASK = {"f0": 0.3, "f1": 0.8, "f2": 0.5, "f3": 0.5}


class Load:
    """Clients calling SuggestConfigs in a loop, recording versions and failures."""

    def __init__(self, target: str, clients: int = 2) -> None:
        self.target = target
        self.versions: list[str] = []
        self.failures: list[BaseException] = []
        self.calls = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        with WarmstartClient(self.target, retries=0) as client:
            while not self._stop.is_set():
                try:
                    answer = client.suggest(TASK, "svm_like", k=2, feature_version="test-1")
                    with self._lock:
                        self.versions.append(answer.model_version)
                        self.calls += 1
                except BaseException as exc:
                    with self._lock:
                        self.failures.append(exc)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def wait_for(self, version: str, timeout: float = 60.0) -> None:
        """Wait until calls made after now answer with ``version``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.versions and self.versions[-1] == version:
                    return
            time.sleep(0.05)
        raise AssertionError(f"never served {version}; last: {self.versions[-1:]}")

    def calls_after(self, count: int, timeout: float = 60.0) -> None:
        """Wait until ``count`` more calls have completed."""
        target = self.calls + count
        wait_until(lambda: self.calls >= target, timeout)


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _first_seen(versions: list[str]) -> list[str]:
    # Calls in flight during a swap may finish on the old model after one on the new: only
    # the order in which versions first appear is fixed.
    return list(dict.fromkeys(versions))


@pytest.mark.slow
def test_models_swap_under_load_with_no_failed_call(bundle: ModelBundle, tmp_path: Path):
    watched = tmp_path / "models"
    v1, v2, v3 = (variant(bundle, n) for n in (1, 2, 3))
    v1.save(watched / "v1.wsb")
    v2.save(tmp_path / "elsewhere" / "v2.wsb")
    models = ModelRegistry(lambda: bundle_files([watched]))
    models.reload()
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    with (
        ServerThread(models, store, settings(watch_seconds=0.1)) as server,
        Load(server.target) as load,
        WarmstartClient(server.target, token=ADMIN_TOKEN) as admin,
    ):
        load.wait_for(v1.version)
        outcome = admin.reload_model(str(tmp_path / "elsewhere" / "v2.wsb"))
        assert (outcome.previous_version, outcome.model_version) == (v1.version, v2.version)
        load.wait_for(v2.version)
        # A broken file in the watched folder is refused; the current model keeps serving.
        (watched / "broken.wsb").write_bytes(b"not a bundle")
        time.sleep(0.5)
        load.calls_after(5)
        assert load.versions[-1] == v2.version
        # A new bundle in the watched folder is picked up by the watcher.
        v3.save(watched / "v3.wsb")
        load.wait_for(v3.version)
        load.calls_after(5)
    assert not load.failures, load.failures[:3]
    assert _first_seen(load.versions) == [v1.version, v2.version, v3.version]
    assert load.calls > 20


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_broken_newest_bundle_keeps_the_served_model(
    bundle: ModelBundle, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    folder = tmp_path / "models"
    v1, v2 = variant(bundle, 1), variant(bundle, 2)
    v1.save(folder / "v1.wsb")
    v2.save(folder / "v2.wsb")
    models = ModelRegistry(lambda: bundle_files([folder]))
    models.reload()
    assert models.versions() == v2.version
    _truncate(folder / "v2.wsb")
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    with (
        ServerThread(models, store, settings()) as server,
        WarmstartClient(server.target, token=ADMIN_TOKEN) as admin,
    ):
        # ReloadModel is all or nothing, and says which file does not load and why.
        for path in ("", str(folder), str(folder / "v2.wsb")):
            with pytest.raises(FailedPreconditionRpcError) as info:
                admin.reload_model(path)
            message = str(info.value)
            assert f"{folder / 'v2.wsb'} is not a warmstart model bundle" in message
            assert "nothing changed" in message
            assert admin.model_info().model_version == v2.version
        # The file watcher's reload logs the file and keeps the newer model it serves.
        with caplog.at_level("WARNING", logger="warmstart.server.models"):
            models.reload(only_changed=True, strict=False)
        assert admin.model_info().model_version == v2.version
        assert f"refused model bundle {folder / 'v2.wsb'}" in caplog.text
        assert f"space svm_like keeps model {v2.version}" in caplog.text
        # Once no file is broken, the folder's newest is served: removing v2 rolls back.
        (folder / "v2.wsb").unlink()
        models.reload(only_changed=True, strict=False)
        assert admin.model_info().model_version == v1.version


def test_at_start_up_the_newest_bundle_that_loads_serves(
    bundle: ModelBundle, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    folder = tmp_path / "models"
    v1, v2 = variant(bundle, 1), variant(bundle, 2)
    v1.save(folder / "v1.wsb")
    v2.save(folder / "v2.wsb")
    _truncate(folder / "v2.wsb")
    models = ModelRegistry(lambda: bundle_files([folder]))
    with pytest.raises(FailedPreconditionError, match=r"v2\.wsb is not a warmstart model bundle"):
        models.reload()
    assert models.versions() == ""
    with caplog.at_level("WARNING", logger="warmstart.server.models"):
        models.reload(strict=False)  # what `warmstart serve` does on start-up
    assert models.versions() == v1.version
    assert f"refused model bundle {folder / 'v2.wsb'}" in caplog.text
