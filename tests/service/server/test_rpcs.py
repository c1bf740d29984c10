"""Every RPC's happy path through the real client, health and reflection, and the INTERNAL guard."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.metamodel.synthetic_world import SPACE
from tests.service.server.conftest import (
    ADMIN_TOKEN,
    TASK_IDS,
    WRITE_TOKEN,
    ServerThread,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION
from warmstart.metamodel.recommend import MAX_K
from warmstart.metamodel.spaces import config_hash, load_configspace, validate_config
from warmstart.metamodel.store import RecordFilter
from warmstart.metamodel.types import RecordSource, RecordStatus, SuggestionOrigin, TaskType
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc
from warmstart.service.client import (
    FailedPreconditionRpcError,
    InvalidArgumentRpcError,
    WarmstartClient,
)
from warmstart.service.server import ModelRegistry, ServedModel
from warmstart.service.server._operations import Operations
from warmstart.service.wire.api import ReportedResult

TASK = {"f0": 0.3, "f1": 0.8, "f2": 0.5, "f3": 0.5}


def test_suggestions_are_typed_valid_and_explained(served: ServerThread, bundle: ModelBundle):
    with WarmstartClient(served.target) as client:
        answer = client.suggest(TASK, "svm_like", k=6, feature_version="test-1")
    assert answer.model_version == bundle.version
    assert answer.space_id == SPACE.space_id
    assert not answer.out_of_distribution
    assert len(answer.suggestions) == 6
    space = load_configspace(SPACE)
    for suggestion in answer.suggestions:
        config = dict(suggestion.config)
        assert validate_config(space, config) == config
        assert type(config["C"]) is float
        assert type(config["kernel"]) is str
        assert type(config["shrinking"]) is bool
        if config["kernel"] == "poly":
            assert type(config["degree"]) is int
        assert isinstance(suggestion.origin, SuggestionOrigin)
        assert len(suggestion.nearest_tasks) == 5
        assert suggestion.nearest_tasks[0].task_id in TASK_IDS


def test_missing_and_nan_features_are_undefined_and_ood_is_reported(served: ServerThread):
    with WarmstartClient(served.target) as client:
        partial = client.suggest(
            {"f0": 0.3, "f1": math.nan}, "svm_like", 2, feature_version="test-1"
        )
        far = client.suggest(
            {"f0": 40.0, "f1": -30.0, "f2": 9.0, "f3": 9.0},
            SPACE.space_id,
            2,
            feature_version="test-1",
        )
    assert len(partial.suggestions) == 2
    assert far.out_of_distribution


def test_suggest_for_a_known_task_with_constraints_and_exclusions(served: ServerThread):
    with WarmstartClient(served.target) as client:
        first = client.suggest(TASK_IDS[3], "svm_like", k=3)
        again = client.suggest(
            TASK_IDS[3], "svm_like", k=3, exclude=[s.config for s in first.suggestions]
        )
        limited = client.suggest(TASK_IDS[3], "svm_like", k=3, max_fit_seconds=0.7)
    assert not {config_hash(s.config) for s in first.suggestions} & {
        config_hash(s.config) for s in again.suggestions
    }
    assert all(s.predicted_fit_seconds <= 0.7 for s in limited.suggestions)


def test_train_rows_travels_and_a_negative_count_is_refused(served: ServerThread):
    with WarmstartClient(served.target) as client:
        sized = client.suggest(TASK, "svm_like", k=3, feature_version="test-1", train_rows=500)
        with pytest.raises(InvalidArgumentRpcError, match="train_rows must be >= 1"):
            client.suggest(TASK, "svm_like", k=3, feature_version="test-1", train_rows=-3)
    assert len(sized.suggestions) == 3
    assert pb.SuggestConfigsRequest(train_rows=7).train_rows == 7


def test_reports_are_stored_once_per_id(served: ServerThread):
    results = [
        ReportedResult(
            f"r{i}",
            TASK_IDS[i],
            "svm_like",
            {"C": 10**i / 100, "kernel": "poly", "degree": 2 + i, "shrinking": False},
            score=0.5 + i / 10,
            metrics={"auc": 0.5 + i / 10},
            fit_seconds=1.5,
            seed=i,
        )
        for i in range(3)
    ]
    results.append(
        ReportedResult(
            "r-failed",
            TASK_IDS[0],
            SPACE.space_id,
            {"C": 1, "kernel": "linear", "shrinking": True},
            status=RecordStatus.TIMEOUT,
            error="took too long",
        )
    )
    with WarmstartClient(served.target, token=WRITE_TOKEN) as client:
        first = client.report(results)
        second = client.report(results[1:])
    assert (first.stored, first.already) == (4, 0)
    assert (second.stored, second.already) == (0, 3)
    stored = served.store.get_records(RecordFilter(source=RecordSource.CLIENT))
    assert sorted(r.external_id or "" for r in stored) == ["r-failed", "r0", "r1", "r2"]
    by_id = {r.external_id: r for r in stored}
    assert by_id["r1"].config == {"C": 0.1, "kernel": "poly", "degree": 3, "shrinking": False}
    assert by_id["r-failed"].status is RecordStatus.TIMEOUT
    assert by_id["r-failed"].score is None
    assert by_id["r-failed"].config["C"] == 1.0


def test_describe_streams_arrow_and_csv(served: ServerThread):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.random(300), "b": rng.integers(0, 5, 300), "c": ["x", "y", "z"] * 100}
    )
    y = rng.random(300)
    with WarmstartClient(served.target) as client:
        client.chunk_bytes = 1024  # many chunks
        described = client.describe(X, y)
        as_classes = client.describe(X.to_numpy()[:, :2].astype(float), (y > 0.5).astype(int))
    assert described.task_type is TaskType.REGRESSION
    assert (described.n_rows, described.n_features) == (300, 3)
    assert described.features.version == FEATURE_VERSION
    assert described.features.names == FEATURE_NAMES
    assert as_classes.task_type is TaskType.BINARY
    csv = "v,w,label\n" + "".join(f"{i % 7},{i * 0.5},{'abc'[i % 3]}\n" for i in range(120))
    data = csv.encode()
    chunks = [
        pb.DescribeTaskChunk(format=pb.DescribeTaskChunk.FORMAT_CSV, target="label", data=data[:50])
    ]
    chunks += [pb.DescribeTaskChunk(data=data[i : i + 100]) for i in range(50, len(data), 100)]
    with grpc.insecure_channel(served.target) as channel:
        response = pb_grpc.WarmstartStub(channel).DescribeTask(iter(chunks), timeout=60)
    assert (response.task_type, response.n_rows, response.n_features) == ("multiclass", 120, 2)
    assert len(response.features.features) == len(FEATURE_NAMES)


def test_spaces_and_model_info(served: ServerThread, bundle: ModelBundle):
    with WarmstartClient(served.target) as client:
        spaces = client.spaces()
        by_name = client.space("svm_like")
        by_id = client.space(SPACE.space_id)
        info = client.model_info()
        one = client.model_info("svm_like")
    assert [s.name for s in spaces] == ["svm_like"]
    assert by_name == by_id
    assert by_name.search_space == SPACE
    assert dict(by_name.default_config) == {
        "C": 1.0,
        "gamma": 0.1,
        "kernel": "rbf",
        "shrinking": True,
    }
    assert info == one
    assert info.model_version == bundle.version
    assert info.feature_version == "test-1"
    assert info.feature_names == ("f0", "f1", "f2", "f3")
    assert info.max_k == MAX_K
    assert info.training_data_hash == bundle.training["data_hash"]
    assert info.created_at == bundle.created_at
    assert [s.name for s in info.spaces] == ["svm_like"]


def test_without_a_model_health_says_not_serving_until_one_is_loaded(
    bundle: ModelBundle, tmp_path: Path
):
    path = tmp_path / "models" / "one.wsb"
    bundle.save(path)
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    with (
        ServerThread(ModelRegistry(), store, settings()) as server,
        grpc.insecure_channel(server.target) as channel,
        WarmstartClient(server.target, token=ADMIN_TOKEN) as client,
    ):
        health = health_pb2_grpc.HealthStub(channel)

        def status() -> int:
            request = health_pb2.HealthCheckRequest(service="warmstart.v1.Warmstart")
            return int(health.Check(request, timeout=10).status)

        assert status() == health_pb2.HealthCheckResponse.NOT_SERVING
        overall = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert overall.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(FailedPreconditionRpcError, match="warmstart train"):
            client.suggest(TASK, "svm_like", 1, feature_version="test-1")
        with pytest.raises(FailedPreconditionRpcError, match="no model is loaded"):
            client.model_info()
        outcome = client.reload_model(str(path))
        assert (outcome.model_version, outcome.previous_version) == (bundle.version, "")
        assert client.suggest(TASK, "svm_like", 1, feature_version="test-1").suggestions
        assert status() == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(served: ServerThread):
    with grpc.insecure_channel(served.target) as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert "warmstart.v1.Warmstart" in services
    assert "warmstart.v1.WarmstartAdmin" in services
    assert "grpc.health.v1.Health" in services


def test_an_unexpected_exception_is_internal_and_the_server_keeps_serving(
    served: ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    def explode(self: Operations) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Operations, "list_spaces", explode)
    with WarmstartClient(served.target) as client:
        with pytest.raises(Exception, match="internal error") as info:
            client.spaces()
        assert getattr(info.value, "code", None) is grpc.StatusCode.INTERNAL
        assert "boom" not in str(info.value)  # the cause stays in the server's log
        monkeypatch.undo()
        assert client.spaces()
    assert any("boom" in (r.exc_text or "") for r in caplog.records)


def test_calls_are_counted_by_rpc_and_code(served: ServerThread):
    with WarmstartClient(served.target) as client:
        client.spaces()
        with pytest.raises(Exception, match="NOT_FOUND"):
            client.space("nope")
    assert served.server is not None
    registry = served.server.metrics.registry
    ok = {"rpc": "ListSearchSpaces", "code": "OK"}
    assert registry.get_sample_value("warmstart_rpc_calls_total", ok) == 1
    missing = {"rpc": "GetSearchSpace", "code": "NOT_FOUND"}
    assert registry.get_sample_value("warmstart_rpc_calls_total", missing) == 1
    assert registry.get_sample_value("warmstart_rpc_latency_seconds_count", ok) == 1


def test_registry_serves_one_model_per_space_and_finds_it_by_id(bundle: ModelBundle):
    models = ModelRegistry()
    models.put([ServedModel.from_bundle(bundle)])
    assert models.get(SPACE.space_id).version == bundle.version
    assert models.versions() == bundle.version


def test_concurrent_suggestions_are_batched_and_each_gets_its_own_answer(served: ServerThread):
    """Calls in flight together are answered in one pass: each still gets what it gets alone,
    and a bad call among them gets its own error."""
    rng = np.random.default_rng(0)
    tasks = [dict(zip(TASK, rng.uniform(0, 1, 4).tolist(), strict=True)) for _ in range(12)]
    asks = [(task, 1 + i % 7) for i, task in enumerate(tasks)]
    with WarmstartClient(served.target) as client:

        def ask(i: int) -> object:
            if i % 5 == 4:  # a bad call among the good ones
                try:
                    client.suggest(
                        {"f0": 1.0, "nope": 2.0}, "svm_like", 2, feature_version="test-1"
                    )
                except InvalidArgumentRpcError as exc:
                    return exc
            task, k = asks[i % len(asks)]
            return client.suggest(task, "svm_like", k, feature_version="test-1")

        alone = [ask(i) for i in range(40)]
        with ThreadPoolExecutor(16) as pool:
            together = list(pool.map(ask, range(40)))
    for one, other in zip(alone, together, strict=True):
        if isinstance(one, InvalidArgumentRpcError):
            assert isinstance(other, InvalidArgumentRpcError)
            assert "unknown meta-feature name(s): nope" in str(other)
        else:
            assert other == one
    assert served.server is not None
    registry = served.server.metrics.registry
    # Every meta-feature call went through a batch (80 of them, in at most 80 passes).
    assert registry.get_sample_value("warmstart_suggest_batch_size_sum") == 80
    assert 1 <= (registry.get_sample_value("warmstart_suggest_batch_size_count") or 0) <= 80
