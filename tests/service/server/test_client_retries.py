"""The client retries UNAVAILABLE (backoff with jitter, streams re-sent whole) and nothing else."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import numpy as np
import pytest

from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc
from warmstart.service.client import InvalidArgumentRpcError, UnavailableRpcError, WarmstartClient


class Flaky(pb_grpc.WarmstartServicer):
    """Answers UNAVAILABLE a set number of times per method, then succeeds (or always fails)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures = {"ListSearchSpaces": 2, "DescribeTask": 1, "GetModelInfo": 99}
        self.chunks: list[int] = []

    def _maybe_fail(self, method: str, context: Any) -> None:
        self.calls[method] += 1
        if self.calls[method] <= self.failures.get(method, 0):
            context.abort(grpc.StatusCode.UNAVAILABLE, "try again")

    def ListSearchSpaces(self, request: Any, context: Any) -> pb.ListSearchSpacesResponse:
        self._maybe_fail("ListSearchSpaces", context)
        return pb.ListSearchSpacesResponse(spaces=[pb.SearchSpace(name="s", space_id="1")])

    def GetSearchSpace(self, request: Any, context: Any) -> pb.SearchSpace:
        self.calls["GetSearchSpace"] += 1
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "space is empty")
        raise AssertionError("unreachable")

    def SuggestConfigs(self, request: Any, context: Any) -> pb.SuggestConfigsResponse:
        raise NotImplementedError

    def ReportResults(self, request: Any, context: Any) -> pb.ReportResultsResponse:
        raise NotImplementedError

    def GetModelInfo(self, request: Any, context: Any) -> pb.ModelInfo:
        self._maybe_fail("GetModelInfo", context)
        return pb.ModelInfo()

    def RegisterTask(self, request: Any, context: Any) -> pb.RegisterTaskResponse:
        raise NotImplementedError

    def ListTasks(self, request: Any, context: Any) -> pb.ListTasksResponse:
        self._maybe_fail("ListTasks", context)
        return pb.ListTasksResponse()

    def GetTask(self, request: Any, context: Any) -> pb.GetTaskResponse:
        raise NotImplementedError

    def DescribeTask(self, request_iterator: Any, context: Any) -> pb.DescribeTaskResponse:
        chunks = list(request_iterator)
        self.chunks.append(len(chunks))
        self._maybe_fail("DescribeTask", context)
        return pb.DescribeTaskResponse(task_type="binary", n_rows=10, n_features=2)


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, str]]:
    servicer = Flaky()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_WarmstartServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(None)


def test_unavailable_is_retried_with_capped_jittered_backoff(flaky: tuple[Flaky, str]):
    servicer, target = flaky
    sleeps: list[float] = []
    with WarmstartClient(target, retries=3, backoff=0.2, max_backoff=0.3) as client:
        client._sleep = sleeps.append
        assert [s.name for s in client.spaces()] == ["s"]
        assert servicer.calls["ListSearchSpaces"] == 3
        assert len(sleeps) == 2
        assert 0 <= sleeps[0] <= 0.2
        assert 0 <= sleeps[1] <= 0.3
        sleeps.clear()
        with pytest.raises(UnavailableRpcError, match="try again") as info:
            client.model_info()
        assert info.value.code is grpc.StatusCode.UNAVAILABLE
        assert servicer.calls["GetModelInfo"] == 4  # the first try and three retries
        assert len(sleeps) == 3
        assert all(0 <= s <= 0.3 for s in sleeps)


def test_other_errors_are_not_retried(flaky: tuple[Flaky, str]):
    servicer, target = flaky
    client = WarmstartClient(target, retries=5, backoff=0.0)
    with client, pytest.raises(InvalidArgumentRpcError, match="space is empty") as info:
        client.space("")
    assert info.value.message == "space is empty"
    assert servicer.calls["GetSearchSpace"] == 1


def test_a_retried_stream_is_sent_again_whole(flaky: tuple[Flaky, str]):
    servicer, target = flaky
    X = np.arange(2000.0).reshape(1000, 2)
    with WarmstartClient(target, retries=2, backoff=0.0) as client:
        client.chunk_bytes = 4096
        described = client.describe(X, np.arange(1000) % 2, task_type="binary")
    assert described.n_rows == 10  # what the fake answered
    assert len(servicer.chunks) == 2
    assert servicer.chunks[0] == servicer.chunks[1] > 1
