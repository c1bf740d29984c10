"""Several servers on one port (SO_REUSEPORT), a clear error when the port is taken, and the
recommender settings a server gives the models it loads."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.service.server.conftest import (
    WRITE_TOKEN,
    ServerThread,
    registry_with,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.recommend import RecommenderSettings
from warmstart.metamodel.types import SuggestionOrigin
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc
from warmstart.service.client import WarmstartClient
from warmstart.service.server import ModelRegistry, make_server
from warmstart.service.wire.api import ReportedResult


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _calls(server: ServerThread, rpc: str = "ListSearchSpaces") -> float:
    assert server.server is not None
    registry = server.server.metrics.registry
    value = registry.get_sample_value("warmstart_rpc_calls_total", {"rpc": rpc, "code": "OK"})
    return value or 0.0


def test_replicas_with_reuse_port_share_one_port(bundle: ModelBundle, tmp_path: Path) -> None:
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'warmstart.db'}"
    shared = settings(port=port, reuse_port=True)
    with (
        ServerThread(registry_with(bundle), seed_store(url), shared) as first,
        ServerThread(registry_with(bundle), seed_store(url), shared) as second,
    ):
        assert first.server is not None
        assert second.server is not None
        assert first.server.port == second.server.port == port
        # Each channel opens its own connection (no shared subchannel pool); the kernel
        # spreads connections over both servers.
        for _ in range(40):
            options = [("grpc.use_local_subchannel_pool", 1)]
            with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
                stub = pb_grpc.WarmstartStub(channel)
                answer = stub.ListSearchSpaces(pb.ListSearchSpacesRequest(), timeout=30)
                assert [s.name for s in answer.spaces] == [bundle.space.name]
        assert _calls(first) + _calls(second) == 40
        assert _calls(first) > 0
        assert _calls(second) > 0
        # A task's state is in the store: whichever replica answers, a task registered and
        # reported on through one connection is known there with its observations.
        with WarmstartClient(f"127.0.0.1:{port}", token=WRITE_TOKEN) as client:
            task_id = client.register_task(
                {"f0": 0.3, "f1": 0.8, "f2": 0.5, "f3": 0.5},
                feature_version="test-1",
                task_type="binary",
                n_rows=500,
                n_features=4,
            ).task.task_id
            tried = [s.config for s in client.suggest(task_id, "svm_like", k=2).suggestions]
            client.report(
                [
                    ReportedResult(f"r{i}", task_id, "svm_like", config, score=0.5)
                    for i, config in enumerate(tried)
                ]
            )
        answers: set[tuple[int, bytes]] = set()
        for _ in range(20):
            options = [("grpc.use_local_subchannel_pool", 1)]
            with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
                request = pb.SuggestConfigsRequest(task_id=task_id, space="svm_like", k=3)
                got = pb_grpc.WarmstartStub(channel).SuggestConfigs(request, timeout=30)
                answers.add((got.observations, got.SerializeToString(deterministic=True)))
        assert len(answers) == 1
        assert answers.pop()[0] == 2
        assert _calls(first, "SuggestConfigs") > 0
        assert _calls(second, "SuggestConfigs") > 0


def test_a_taken_port_is_a_clear_error(bundle: ModelBundle, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warmstart.db'}"
    with ServerThread(registry_with(bundle), seed_store(url), settings()) as running:
        assert running.server is not None
        taken = settings(port=running.server.port)

        async def start_second() -> None:
            await make_server(registry_with(bundle), seed_store(url), taken).start()

        with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1:\d+: the port is in use"):
            asyncio.run(start_second())


def test_serve_on_a_taken_port_exits_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "warmstart.service.cli", "serve", "--port", str(port),
             "--db", f"sqlite:///{tmp_path / 'w.db'}", "--create-db", "--watch-seconds", "0"],
            capture_output=True, text=True, timeout=120,
            env={"WARMSTART_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in done.stderr
    assert "--reuse-port" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_registry_builds_recommenders_with_its_settings(
    bundle: ModelBundle, tmp_path: Path
) -> None:
    path = tmp_path / "model.wsb"
    bundle.save(path)
    refining = ModelRegistry(lambda: [path], settings=RecommenderSettings(n_refine_from=8))
    refining.reload()
    model = refining.get(bundle.space.name)
    assert model.recommender.settings.n_refine_from == 8
    task = dict(zip(bundle.index.feature_names, [0.3, 0.8, 0.5, 0.5], strict=True))
    origins = {s.origin for s in model.recommender.suggest(task, k=40).suggestions}
    assert SuggestionOrigin.REFINEMENT in origins
    plain = ModelRegistry(lambda: [path])
    plain.reload()
    assert plain.get(bundle.space.name).recommender.settings.n_refine_from == 0
