"""A trained synthetic bundle, a store that knows its tasks, and servers run in a thread.

The server under test is the real one (``make_server``) on port 0, driven by
its own event loop in a background thread, so tests call it with the real,
synchronous stubs and client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.metamodel.synthetic_world import FAST, SPACE, features, world
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.bundle._train import train_from_records
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import SearchSpace, Task, TaskFeatures, TaskType
from warmstart.service.server import ModelRegistry, ServedModel, WarmstartServer, make_server
from warmstart.service.settings import ServerSettings

_T = TypeVar("_T")

WRITE_TOKEN = "write-secret"
ADMIN_TOKEN = "admin-secret"
TASKS, _ = world(40, seed=1)
TASK_IDS = sorted(TASKS)


@pytest.fixture(scope="session")
def bundle() -> ModelBundle:
    """A small model of the synthetic world (feature version ``test-1``, names f0..f3)."""
    tasks, records = world(40, seed=1)
    return train_from_records(
        SPACE, records, features(tasks), {t: t for t in tasks}, "test-1", FAST
    )


def variant(bundle: ModelBundle, n: int) -> ModelBundle:
    """The same model under another version, ``n`` seconds newer (for swaps)."""
    return dataclasses.replace(
        bundle,
        version=f"{bundle.version}-v{n}",
        created_at=bundle.created_at + timedelta(seconds=n),
    )


def seed_store(url: str) -> RecordStore:
    """Open a store holding the synthetic tasks, their features and the space."""
    store = RecordStore.open(url)
    store.add_all(
        tasks=[
            Task(t, t, TaskType.BINARY, "synthetic", n_rows=100, n_features=4) for t in TASK_IDS
        ],
        spaces=[SPACE],
    )
    store.put_task_features(features(TASKS).values())
    return store


def clear_client_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No server, token or certificate from the environment, and ``home`` as the data
    directory: a CLI test sees only what it passes."""
    for name in ("WARMSTART_SERVER", "WARMSTART_TOKEN", "WARMSTART_TLS_ROOT_CERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WARMSTART_HOME", str(home))


@contextmanager
def serving(
    bundle: ModelBundle,
    url: str,
    tasks: Sequence[Task],
    space: SearchSpace,
    task_features: Iterable[TaskFeatures],
) -> Iterator[ServerThread]:
    """A real server of ``bundle`` over a store at ``url`` that knows the tasks, their
    meta-features and the space (and holds no records)."""
    store = RecordStore.open(url)
    store.add_all(tasks=tasks, spaces=[space])
    store.put_task_features(task_features)
    with ServerThread(registry_with(bundle), store, settings()) as running:
        yield running


def registry_with(*bundles: ModelBundle) -> ModelRegistry:
    models = ModelRegistry()
    models.put(ServedModel.from_bundle(b) for b in bundles)
    return models


class ServerThread:
    """A real server on its own event loop in a background thread."""

    def __init__(self, models: ModelRegistry, store: RecordStore, settings: ServerSettings):
        self.models, self.store, self.settings = models, store, settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: WarmstartServer | None = None

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    async def _start(self) -> WarmstartServer:
        server = make_server(self.models, self.store, self.settings)
        await server.start()
        return server

    @property
    def target(self) -> str:
        assert self.server is not None
        host = "localhost" if self.settings.tls else "127.0.0.1"
        return f"{host}:{self.server.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.server = self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.run(self.server.stop(grace=2))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


def settings(**overrides: Any) -> ServerSettings:
    base: dict[str, Any] = {
        "port": 0,
        "write_tokens": frozenset({WRITE_TOKEN}),
        "admin_tokens": frozenset({ADMIN_TOKEN}),
        "watch_seconds": 0.0,
        "grace_seconds": 2.0,
    }
    base.update(overrides)
    return ServerSettings(**base)


@pytest.fixture
def served(bundle: ModelBundle, tmp_path: Path) -> Iterator[ServerThread]:
    """A server with the synthetic model over a fresh SQLite store."""
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    with ServerThread(registry_with(bundle), store, settings()) as server:
        yield server
