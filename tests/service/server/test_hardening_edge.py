"""Requests from hostile or clumsy clients are refused at the edge, alike on every backend.

Each test here is one finding of the hardening review (issue 22): size and count limits
checked before any work and heavy decoding off the event loop (1), strings checked once
(NUL, length, UTF-8) so SQLite and PostgreSQL answer alike (2), undecodable requests
answered INVALID_ARGUMENT and logged and counted (3), nested Arrow columns refused (4),
echoed input cut short (5), a memory budget for concurrent uploads, read at a paced rate
(9), and warnings in the JSON log with no overflow at a huge meta-feature (12).
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import logging
import random
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import grpc
import numpy as np
import pyarrow as pa
import pytest
from google.protobuf.message import DecodeError

from tests.conftest import BACKENDS, pg_schema_url
from tests.service.server.conftest import (
    TASK_IDS,
    WRITE_TOKEN,
    ServerThread,
    registry_with,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import InvalidRequestError, shown
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc
from warmstart.service.server import DEFAULT_UPLOAD_RATE_MB, configure_json_logging
from warmstart.service.server import _servicer as servicer_module
from warmstart.service.server._dataset import (
    UPLOAD_BYTES_HEADER,
    ChunkCollector,
    UploadBudget,
    UploadPace,
)
from warmstart.service.server._edge import (
    MAX_CHUNK_FIELDS,
    MAX_ERROR_CHARS,
    MAX_EXCLUDE,
    MAX_FEATURES,
    MAX_NAME_CHARS,
    MAX_SMALL_REQUEST_BYTES,
    MAX_SUGGEST_BYTES,
    ChunkFields,
    decode_chunk,
    parse_request,
)
from warmstart.service.server._errors import MAX_MESSAGE_CHARS, ResourceExhaustedError, status_for
from warmstart.service.server._operations import Operations
from warmstart.service.settings import UPLOAD_RATE_MB_ENV, ServerSettings, server_settings
from warmstart.service.wire import convert as convert_module
from warmstart.service.wire.api import TableFormat

CODE = grpc.StatusCode
AUTH = (("authorization", f"Bearer {WRITE_TOKEN}"),)
FEATURES = [("f0", 0.3), ("f1", 0.7), ("f2", 0.5), ("f3", 0.5)]
GOOD = {"C": 1.0, "kernel": "linear", "shrinking": True}
CSV = pb.DescribeTaskChunk.FORMAT_CSV
ARROW = pb.DescribeTaskChunk.FORMAT_ARROW_IPC
MIB = 1024 * 1024


def _value(v: object) -> pb.ParameterValue:
    if isinstance(v, bool):
        return pb.ParameterValue(bool_value=v)
    if isinstance(v, float):
        return pb.ParameterValue(double_value=v)
    return pb.ParameterValue(string_value=str(v))


def config(**values: object) -> pb.Config:
    return pb.Config(parameters={k: _value(v) for k, v in values.items()})


def suggest_request(
    features: list[tuple[str, float]] | None = None, **fields: Any
) -> pb.SuggestConfigsRequest:
    request = pb.SuggestConfigsRequest(space=fields.pop("space", "svm_like"), k=3)
    if "task_id" in fields:
        request.task_id = fields.pop("task_id")
    else:
        request.features.feature_version = "test-1"
        request.features.features.extend(
            pb.MetaFeature(name=k, value=v) for k, v in (features or FEATURES)
        )
    request.exclude.extend(fields.pop("exclude", []))
    assert not fields
    return request


def result(n: int, **fields: Any) -> pb.Result:
    base: dict[str, Any] = {
        "id": f"edge-{n}",
        "task_id": TASK_IDS[0],
        "space": "svm_like",
        "config": config(**GOOD),
        "status": pb.RESULT_STATUS_OK,
        "score": 0.5,
        "seed": n,
    }
    base.update(fields)
    return pb.Result(**base)


def refusal(call: Callable[[], object]) -> grpc.Call:
    with pytest.raises(grpc.RpcError) as info:
        call()
    error = info.value
    assert isinstance(error, grpc.Call)
    return error


def arrow_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


@pytest.fixture
def stub(served: ServerThread) -> Iterator[pb_grpc.WarmstartStub]:
    with grpc.insecure_channel(served.target) as channel:
        yield pb_grpc.WarmstartStub(channel)


# -- 1. size and count limits before any work; heavy decoding off the event loop ---------


def test_too_many_excluded_configs_are_refused_with_the_limit(stub: pb_grpc.WarmstartStub):
    request = suggest_request(exclude=[config(**GOOD)] * (MAX_EXCLUDE + 1))
    error = refusal(lambda: stub.SuggestConfigs(request, timeout=30))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert f"exclude holds {MAX_EXCLUDE + 1} configs; at most {MAX_EXCLUDE}" in str(error.details())


def test_too_many_meta_features_are_refused_with_the_limit(stub: pb_grpc.WarmstartStub):
    request = suggest_request([(f"x{i}", 1.0) for i in range(MAX_FEATURES + 1)])
    error = refusal(lambda: stub.SuggestConfigs(request, timeout=30))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert f"at most {MAX_FEATURES} are allowed" in str(error.details())


def test_an_oversized_suggest_request_is_refused_before_it_is_parsed(
    stub: pb_grpc.WarmstartStub,
):
    big = config(C=1.0, kernel="x" * 900, shrinking=True)
    request = suggest_request(exclude=[big] * 1200)
    assert request.ByteSize() > MAX_SUGGEST_BYTES
    error = refusal(lambda: stub.SuggestConfigs(request, timeout=30))
    assert error.code() == CODE.RESOURCE_EXHAUSTED
    assert f"at most {MAX_SUGGEST_BYTES} bytes per SuggestConfigs request" in str(error.details())


def test_excluded_configs_and_result_batches_are_decoded_off_the_event_loop(
    served: ServerThread, stub: pb_grpc.WarmstartStub, monkeypatch: pytest.MonkeyPatch
):
    """Their decoding grows with the request: on the loop it would hold up every other call."""
    threads: list[threading.Thread] = []

    def watched(name: str) -> Callable[..., Any]:
        original = getattr(convert_module, name)

        def spy(*args: Any) -> Any:
            threads.append(threading.current_thread())
            return original(*args)

        return spy

    for name in ("suggest_request_from_proto", "results_from_proto"):
        monkeypatch.setattr(convert_module, name, watched(name))
    answer = stub.SuggestConfigs(suggest_request(exclude=[config(**GOOD)] * MAX_EXCLUDE))
    assert len(answer.suggestions) == 3
    assert all(s.config != config(**GOOD) for s in answer.suggestions)
    stub.ReportResults(pb.ReportResultsRequest(results=[result(1)]), metadata=AUTH)
    assert len(threads) == 2
    assert served.thread not in threads  # the server's event loop runs in served.thread


def test_suggestions_from_observations_are_worked_out_on_the_thread_of_long_work(
    served: ServerThread, stub: pb_grpc.WarmstartStub, monkeypatch: pytest.MonkeyPatch
):
    """Observations (given or stored for a task id) make an answer 100 ms or more of work:
    never on the event loop, where a health Check would wait for it."""
    threads: list[threading.Thread] = []
    original = Operations.suggest_many

    def spy(self: Any, requests: Any) -> Any:
        threads.append(threading.current_thread())
        return original(self, requests)

    monkeypatch.setattr(Operations, "suggest_many", spy)
    first = stub.SuggestConfigs(suggest_request())
    given = suggest_request()
    given.observations.extend(
        pb.Observation(config=s.config, score=float(i)) for i, s in enumerate(first.suggestions)
    )
    informed = stub.SuggestConfigs(given)
    assert informed.observations == 3
    by_id = stub.SuggestConfigs(suggest_request(task_id=TASK_IDS[0]))
    assert len(by_id.suggestions) == 3
    # The first request went through the loop's batcher (bound before the spy was set);
    # the two with observations through the thread of long work.
    assert [t.name.startswith(servicer_module.HEAVY_THREAD_PREFIX) for t in threads] == [
        True,
        True,
    ]
    assert served.thread not in threads


def test_requests_that_carry_a_name_at_most_are_refused_past_64_kib(
    stub: pb_grpc.WarmstartStub,
):
    request = pb.GetSearchSpaceRequest(space="s" * (MAX_SMALL_REQUEST_BYTES + 1))
    error = refusal(lambda: stub.GetSearchSpace(request, timeout=30))
    assert error.code() == CODE.RESOURCE_EXHAUSTED
    assert f"at most {MAX_SMALL_REQUEST_BYTES} bytes per GetSearchSpace request" in str(
        error.details()
    )


def test_a_chunk_is_read_in_bounded_time_and_unknown_fields_are_skipped(served: ServerThread):
    """A chunk of many tiny fields (protobuf parses 16 MiB of them in ~100 ms, on the loop)
    is refused after a few; an unknown field, as from a newer client, is skipped."""
    first = pb.DescribeTaskChunk(format=CSV, target="y", data=b"a,y\n1,0\n2,1\n3,0\n")
    unknown = bytes([0xF8, 0x01, 0x07])  # field 31, varint 7
    with grpc.insecure_channel(served.target) as channel:
        describe: Callable[..., bytes] = channel.stream_unary(
            "/warmstart.v1.Warmstart/DescribeTask"
        )
        answer = pb.DescribeTaskResponse.FromString(
            describe(iter([first.SerializeToString() + unknown]), timeout=30)
        )
        assert answer.n_rows == 3
        tiny = first.SerializeToString() + unknown * (MAX_CHUNK_FIELDS + 1)
        error = refusal(lambda: describe(iter([tiny]), timeout=30))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert f"a DescribeTask chunk carries at most {MAX_CHUNK_FIELDS} fields" in str(error.details())


def test_chunks_decode_as_protobuf_decodes_them_garbled_or_not():
    """decode_chunk against protobuf on 5,000 garbled chunks: the same fields, or both refuse
    (decode_chunk alone also refuses more than MAX_CHUNK_FIELDS fields)."""
    whole = [
        pb.DescribeTaskChunk(format=CSV, target="y", task_type="binary", data=b"a,y\n1,0\n"),
        pb.DescribeTaskChunk(format=CSV, target="y", name="t", probe_space="knn", data=b"1"),
        pb.DescribeTaskChunk(data=b"x" * 300),
        pb.DescribeTaskChunk(format=-5, target="ü"),  # type: ignore[arg-type]
        pb.DescribeTaskChunk(),
    ]
    rng = random.Random(7)
    agreed = 0
    for _ in range(5000):
        raw = bytearray(rng.choice(whole).SerializeToString()[: rng.randint(0, 60)])
        for _ in range(rng.randint(0, 3)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        ours: ChunkFields | DecodeError
        try:
            ours = decode_chunk(bytes(raw))
        except DecodeError as exc:
            ours = exc
        try:
            theirs = pb.DescribeTaskChunk.FromString(bytes(raw))
        except DecodeError:
            assert isinstance(ours, DecodeError), bytes(raw)
            continue
        if isinstance(ours, DecodeError):
            assert f"at most {MAX_CHUNK_FIELDS} fields" in str(ours), bytes(raw)
            continue
        fields = (ours.format, ours.target, ours.task_type, bytes(ours.data), ours.name)
        assert fields == (theirs.format, theirs.target, theirs.task_type, theirs.data, theirs.name)
        assert ours.probe_space == theirs.probe_space
        agreed += 1
    assert agreed > 1000


def test_a_report_is_parsed_only_after_its_token_is_checked_and_off_the_loop(
    served: ServerThread, monkeypatch: pytest.MonkeyPatch
):
    parsed: list[threading.Thread] = []
    original = parse_request

    def spy(*args: Any) -> Any:
        parsed.append(threading.current_thread())
        return original(*args)

    monkeypatch.setattr("warmstart.service.server._servicer.parse_request", spy)
    request = pb.ReportResultsRequest(results=[result(1)])
    with grpc.insecure_channel(served.target) as channel:
        stub = pb_grpc.WarmstartStub(channel)
        error = refusal(lambda: stub.ReportResults(request, timeout=30))
        assert error.code() == CODE.UNAUTHENTICATED
        assert parsed == []
        assert stub.ReportResults(request, timeout=30, metadata=AUTH).stored == 1
    assert len(parsed) == 1
    assert parsed[0] is not served.thread


# -- 2. strings checked once at the edge: NUL, length; both backends alike -----------------


@pytest.fixture(scope="module", params=BACKENDS)
def backend_server(
    request: pytest.FixtureRequest, bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('edge') / 'warmstart.db'}"
    else:
        url = pg_schema_url(request.getfixturevalue("pg_database"))
    with ServerThread(registry_with(bundle), seed_store(url), settings()) as server:
        yield server


NUL = "a\x00b"
Case = Callable[[pb_grpc.WarmstartStub], object]
STRING_CASES: list[tuple[str, Case, str]] = [
    ("NUL in result id", lambda s: s.ReportResults(pb.ReportResultsRequest(
     results=[result(1, id=NUL)]), metadata=AUTH), "results[0].id contains a NUL"),
    ("NUL in result error", lambda s: s.ReportResults(pb.ReportResultsRequest(
     results=[result(2, error=NUL, status=pb.RESULT_STATUS_FAILED, score=None)]),
     metadata=AUTH), "results[0].error contains a NUL"),
    ("NUL in result task_id", lambda s: s.ReportResults(pb.ReportResultsRequest(
     results=[result(3), result(4, task_id=NUL)]), metadata=AUTH),
     "results[1].task_id contains a NUL"),
    ("NUL in result space", lambda s: s.ReportResults(pb.ReportResultsRequest(
     results=[result(5, space=NUL)]), metadata=AUTH), "results[0].space contains a NUL"),
    ("NUL in a metric name", lambda s: s.ReportResults(pb.ReportResultsRequest(
     results=[result(6, metrics={NUL: 1.0})]), metadata=AUTH), "a metric name contains a NUL"),
    ("NUL in a config value", lambda s: s.ReportResults(pb.ReportResultsRequest(
     results=[result(7, config=config(C=1.0, kernel=NUL, shrinking=True))]), metadata=AUTH),
     "parameter 'kernel' contains a NUL"),
    ("long error", lambda s: s.ReportResults(pb.ReportResultsRequest(
     results=[result(8, error="e" * (MAX_ERROR_CHARS + 1), status=pb.RESULT_STATUS_FAILED,
     score=None)]), metadata=AUTH), f"at most {MAX_ERROR_CHARS} are allowed"),
    ("NUL in suggest task_id", lambda s: s.SuggestConfigs(suggest_request(task_id=NUL)),
     "task_id contains a NUL"),
    ("NUL in suggest space", lambda s: s.SuggestConfigs(suggest_request(space=NUL)),
     "space contains a NUL"),
    ("NUL in a meta-feature name", lambda s: s.SuggestConfigs(suggest_request(
     [*FEATURES, (NUL, 1.0)])), "a meta-feature name contains a NUL"),
    ("NUL in an excluded config", lambda s: s.SuggestConfigs(suggest_request(
     exclude=[config(C=1.0, kernel=NUL, shrinking=True)])), "contains a NUL"),
    ("NUL in GetSearchSpace", lambda s: s.GetSearchSpace(pb.GetSearchSpaceRequest(space=NUL)),
     "space contains a NUL"),
    ("NUL in GetModelInfo", lambda s: s.GetModelInfo(pb.GetModelInfoRequest(space=NUL)),
     "space contains a NUL"),
    ("NUL in a target name", lambda s: s.DescribeTask(iter([pb.DescribeTaskChunk(
     format=CSV, target=NUL, data=b"a,y\n1,0\n")])), "target contains a NUL"),
    ("long space", lambda s: s.GetSearchSpace(pb.GetSearchSpaceRequest(
     space="s" * 10_000)), f"space is 10000 characters long; at most {MAX_NAME_CHARS}"),
    ("long task_id", lambda s: s.SuggestConfigs(suggest_request(task_id="t" * 300)),
     f"task_id is 300 characters long; at most {MAX_NAME_CHARS}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "fragment"), [c[1:] for c in STRING_CASES], ids=[c[0] for c in STRING_CASES]
)
def test_bad_strings_are_invalid_argument_on_every_backend_and_store_nothing(
    backend_server: ServerThread, call: Case, fragment: str
) -> None:
    before = backend_server.store.count_records()
    with grpc.insecure_channel(backend_server.target) as channel:
        error = refusal(lambda: call(pb_grpc.WarmstartStub(channel)))
    assert error.code() == CODE.INVALID_ARGUMENT, error.details()
    assert fragment in str(error.details()), error.details()
    assert backend_server.store.count_records() == before


def test_the_valid_neighbours_of_bad_strings_are_stored(backend_server: ServerThread) -> None:
    """The checks refuse what is wrong, not text that merely looks odd."""
    with grpc.insecure_channel(backend_server.target) as channel:
        stub = pb_grpc.WarmstartStub(channel)
        odd = result(90, id="ü-\t-" + "i" * 100, error="€\n" * 1000, status=2, score=None)
        answer = stub.ReportResults(pb.ReportResultsRequest(results=[odd]), metadata=AUTH)
    assert answer.stored == 1


# -- 3. undecodable requests: INVALID_ARGUMENT, logged and counted --------------------------

GARBAGE = b"\x0a\xff\x01abc"  # field 1, length 255, then 3 bytes: truncated
BAD_UTF8 = b"\x0a\x02\xff\xfe"  # field 1 (a string) holding bytes that are not UTF-8


def _raw_unary(channel: grpc.Channel, method: str) -> Callable[..., bytes]:
    return channel.unary_unary(method)  # no serializers: bytes go as they are


def test_undecodable_requests_are_invalid_argument_logged_and_counted(
    served: ServerThread, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="warmstart.server.access")
    with grpc.insecure_channel(served.target) as channel:
        suggest = _raw_unary(channel, "/warmstart.v1.Warmstart/SuggestConfigs")
        error = refusal(lambda: suggest(GARBAGE, timeout=30))
        assert error.code() == CODE.INVALID_ARGUMENT
        assert "the SuggestConfigs request (6 bytes) is not a valid message" in str(error.details())
        space = _raw_unary(channel, "/warmstart.v1.Warmstart/GetSearchSpace")
        error = refusal(lambda: space(BAD_UTF8, timeout=30))
        assert error.code() == CODE.INVALID_ARGUMENT
        assert "UTF-8" in str(error.details())
        report = _raw_unary(channel, "/warmstart.v1.Warmstart/ReportResults")
        error = refusal(lambda: report(GARBAGE, timeout=30))  # no token: that comes first
        assert error.code() == CODE.UNAUTHENTICATED
        error = refusal(lambda: report(GARBAGE, timeout=30, metadata=AUTH))
        assert error.code() == CODE.INVALID_ARGUMENT
        describe: Callable[..., bytes] = channel.stream_unary(
            "/warmstart.v1.Warmstart/DescribeTask"
        )
        first = pb.DescribeTaskChunk(format=CSV, target="y", data=b"a,y\n").SerializeToString()
        error = refusal(lambda: describe(iter([first, GARBAGE]), timeout=30))
        assert error.code() == CODE.INVALID_ARGUMENT
        assert "the DescribeTask request (6 bytes) is not a valid message" in str(error.details())
    assert served.server is not None
    registry = served.server.metrics.registry
    for rpc in ("SuggestConfigs", "GetSearchSpace", "ReportResults", "DescribeTask"):
        labels = {"rpc": rpc, "code": "INVALID_ARGUMENT"}
        assert registry.get_sample_value("warmstart_rpc_calls_total", labels) == 1, rpc
    logged = [(vars(r)["rpc"], vars(r)["code"]) for r in caplog.records if "rpc" in vars(r)]
    assert ("SuggestConfigs", "INVALID_ARGUMENT") in logged
    assert ("DescribeTask", "INVALID_ARGUMENT") in logged
    assert ("ReportResults", "UNAUTHENTICATED") in logged


# -- 4. nested Arrow columns are refused by name and type; odd scalar types are described ---

NESTED = {
    "list": pa.array([[i, i + 1] for i in range(40)]),
    "large list": pa.array([[i] for i in range(40)], type=pa.large_list(pa.int64())),
    "struct": pa.array([{"a": i} for i in range(40)]),
    "map": pa.array([[("k", i)] for i in range(40)], type=pa.map_(pa.string(), pa.int64())),
    "union": pa.UnionArray.from_sparse(
        pa.array([0, 1] * 20, type=pa.int8()),
        [pa.array(range(40)), pa.array([str(i) for i in range(40)])],
    ),
}
SCALARS = {
    "binary": pa.array([b"x%d" % (i % 3) for i in range(40)]),
    "decimal": pa.array([decimal.Decimal(i) for i in range(40)]),
    "date": pa.array([datetime.date(2020, 1, 1 + i % 28) for i in range(40)]),
    "timestamp with zone": pa.array(
        [datetime.datetime(2020, 1, 1, i % 24) for i in range(40)], type=pa.timestamp("s", "UTC")
    ),
    "duration": pa.array([datetime.timedelta(seconds=i) for i in range(40)]),
    "null": pa.nulls(40),
    "float16": pa.array(np.arange(40, dtype=np.float16)),
    "dictionary": pa.array(["a", "b"] * 20).dictionary_encode(),
    "uint64 max": pa.array([2**64 - 1] * 40, type=pa.uint64()),
    "huge floats": pa.array([1e308, -1e308] * 20),
}


@pytest.mark.parametrize("kind", sorted(NESTED))
def test_nested_arrow_columns_are_refused_by_name_and_type(stub: pb_grpc.WarmstartStub, kind: str):
    column = NESTED[kind]
    table = pa.table({"ok": list(range(40)), "odd col": column, "y": [i % 2 for i in range(40)]})
    chunk = pb.DescribeTaskChunk(format=ARROW, target="y", data=arrow_bytes(table))
    error = refusal(lambda: stub.DescribeTask(iter([chunk]), timeout=30))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert f"column(s) 'odd col' ({column.type})" in str(error.details())


@pytest.mark.parametrize("kind", sorted(SCALARS))
def test_scalar_arrow_columns_of_any_type_are_described(stub: pb_grpc.WarmstartStub, kind: str):
    table = pa.table({"odd": SCALARS[kind], "n": list(range(40)), "y": [i % 2 for i in range(40)]})
    chunk = pb.DescribeTaskChunk(format=ARROW, target="y", data=arrow_bytes(table))
    answer = stub.DescribeTask(iter([chunk]), timeout=30)
    assert answer.n_features == 2


# -- 5. echoed input is cut short ------------------------------------------------------------


def test_messages_quote_long_input_cut_short(stub: pb_grpc.WarmstartStub):
    name = "n" * MAX_NAME_CHARS
    error = refusal(lambda: stub.GetSearchSpace(pb.GetSearchSpaceRequest(space=name)))
    assert error.code() == CODE.NOT_FOUND
    details = str(error.details())
    assert f"'{'n' * 100}'... ({MAX_NAME_CHARS} chars)" in details
    assert "n" * 101 not in details
    error = refusal(lambda: stub.GetSearchSpace(pb.GetSearchSpaceRequest(space="s" * 10_000)))
    assert len(str(error.details())) < 300


def test_a_refusal_message_is_bounded_whatever_it_lists():
    code, message = status_for(InvalidRequestError("problem; " * 10_000))
    assert code is CODE.INVALID_ARGUMENT
    assert len(message) < MAX_MESSAGE_CHARS + 100
    assert message.endswith("(cut: 90000 chars in all)")
    assert shown("x" * 5) == "'xxxxx'"


# -- 9. a memory budget for all uploads at once ---------------------------------------------


def _describe(
    stub: pb_grpc.WarmstartStub,
    chunks: list[bytes],
    metadata: tuple[tuple[str, str], ...] = (),
) -> pb.DescribeTaskResponse | grpc.Call:
    """A CSV upload of ``chunks``: its answer, or the refusal."""
    messages = [pb.DescribeTaskChunk(format=CSV, target="y", data=chunks[0])]
    messages += [pb.DescribeTaskChunk(data=data) for data in chunks[1:]]
    try:
        response: pb.DescribeTaskResponse = stub.DescribeTask(
            iter(messages), timeout=30, metadata=metadata
        )
    except grpc.RpcError as exc:
        return cast(grpc.Call, exc)
    return response


def _held(data: bytes, release: threading.Event) -> Iterator[pb.DescribeTaskChunk]:
    """An upload whose stream stays open after its first chunk until ``release``."""
    yield pb.DescribeTaskChunk(format=CSV, target="y", data=data)
    release.wait(60)


@contextmanager
def _small_budget_server(bundle: ModelBundle, tmp_path: Path) -> Iterator[pb_grpc.WarmstartStub]:
    """A server taking datasets of at most 48 KiB, 64 KiB of them at once."""
    limits = settings(max_describe_bytes=48 * 1024, describe_budget_bytes=64 * 1024)
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    with (
        ServerThread(registry_with(bundle), store, limits) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        yield pb_grpc.WarmstartStub(channel)


class _HeldUpload:
    """An undeclared upload (so reserving the largest dataset) whose stream stays open
    after its first chunk, holding its room in the budget, until :meth:`finish`."""

    def __init__(self, stub: pb_grpc.WarmstartStub, data: bytes) -> None:
        self.stub, self.data = stub, data
        self._start()

    def _start(self) -> None:
        self.release = threading.Event()
        self.future = self.stub.DescribeTask.future(_held(self.data, self.release), timeout=60)

    def beside(
        self, attempt: Callable[[], pb.DescribeTaskResponse | grpc.Call]
    ) -> Iterator[tuple[pb.DescribeTaskResponse | grpc.Call, bool]]:
        """``attempt()``'s answers, each with whether it was refused while this upload held
        its room (the caller stops when it has seen enough)."""
        for _ in range(600):
            if self.future.done():  # it came while another upload held the budget: again
                self._start()
            answer = attempt()
            held = isinstance(answer, grpc.Call) and not self.future.done()
            yield answer, held
            if not held:
                threading.Event().wait(0.05)
        raise AssertionError("the held upload never held the budget beside another")

    def finish(self) -> pb.DescribeTaskResponse:
        """Send the end of the stream; its answer."""
        self.release.set()
        return self.future.result()


def _first_refusal(
    answers: Iterator[tuple[pb.DescribeTaskResponse | grpc.Call, bool]],
) -> grpc.Call:
    return next(cast(grpc.Call, answer) for answer, held in answers if held)


def test_uploads_past_the_budget_are_resource_exhausted_until_others_finish(
    bundle: ModelBundle, tmp_path: Path
):
    header = b"a,b,y\n"
    rows = b"".join(b"%d,%d,%d\n" % (i, i * 7 % 13, i % 2) for i in range(4000))[: 40 * 1024]
    data = header + rows[: rows.rindex(b"\n") + 1]
    with _small_budget_server(bundle, tmp_path) as stub:
        first = _HeldUpload(stub, data)
        refused = _first_refusal(first.beside(lambda: _describe(stub, [data])))
        assert refused.code() == CODE.RESOURCE_EXHAUSTED
        assert "of its 64.0 KiB DescribeTask budget (all uploads at once) is in use" in str(
            refused.details()
        )
        assert first.finish().n_rows > 0
        again = _describe(stub, [data])  # the budget was given back
        assert isinstance(again, pb.DescribeTaskResponse)


def test_an_upload_is_admitted_or_refused_before_its_data_is_read(
    bundle: ModelBundle, tmp_path: Path
):
    # Uploads took the budget a chunk at a time, so one could be refused part-way, after
    # the server had read and held some of its data: 7 to 11 per full-size edge_load run.
    rows = b"".join(b"%d,%d,%d\n" % (i, i * 7 % 13, i % 2) for i in range(600))
    small = b"a,b,y\n" + rows[: rows.rindex(b"\n", 0, 6 * 1024) + 1]
    cut = len(small) // 2

    def upload(
        stub: pb_grpc.WarmstartStub, chunks: list[bytes], declared: object = None
    ) -> pb.DescribeTaskResponse | grpc.Call:
        header = () if declared is None else ((UPLOAD_BYTES_HEADER, str(declared)),)
        return _describe(stub, chunks, header)

    with _small_budget_server(bundle, tmp_path) as stub:
        # Declared sizes are checked before any data: too large, malformed, exceeded.
        too_big = upload(stub, [small], declared=48 * 1024 + 1)
        assert isinstance(too_big, grpc.Call)
        assert too_big.code() == CODE.RESOURCE_EXHAUSTED
        assert "declares 49153 bytes; this server describes datasets of at most 49152" in str(
            too_big.details()
        )
        malformed = upload(stub, [small], declared="lots")
        assert isinstance(malformed, grpc.Call)
        assert malformed.code() == CODE.INVALID_ARGUMENT
        assert "warmstart-upload-bytes header must be the upload's size" in str(malformed.details())
        over = upload(stub, [small[:cut], small[cut:]], declared=cut)
        assert isinstance(over, grpc.Call)
        assert over.code() == CODE.INVALID_ARGUMENT
        assert f"passed the {cut} bytes its warmstart-upload-bytes header declared" in str(
            over.details()
        )
        assert isinstance(upload(stub, [small], declared=len(small)), pb.DescribeTaskResponse)

        # Beside an upload holding 6 KiB of data and 48 KiB of room, 6 KiB more undeclared
        # is refused (it was taken before), and the refusal says why.
        first = _HeldUpload(stub, small)
        refused = _first_refusal(first.beside(lambda: upload(stub, [small[:cut], small[cut:]])))
        assert refused.code() == CODE.RESOURCE_EXHAUSTED
        details = str(refused.details())
        assert "48.0 KiB of its 64.0 KiB DescribeTask budget (all uploads at once) is in use" in (
            details
        )
        assert "this upload needs 48.0 KiB (the largest dataset this server takes" in details
        # One that declares its size fits beside it.
        beside = upload(stub, [small], declared=len(small))
        assert isinstance(beside, pb.DescribeTaskResponse), beside
        assert first.finish().n_rows > 0
        assert isinstance(upload(stub, [small]), pb.DescribeTaskResponse)  # room given back


def test_an_upload_refused_at_admission_costs_the_thread_of_long_work_nothing(
    bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Each refusal queued a malloc_trim on the thread of long work, ahead of the
    # SuggestConfigs waiting there, though nothing of it had been read.
    trims: list[float] = []
    monkeypatch.setattr(servicer_module, "release_free_memory", lambda: trims.append(1.0))
    data = b"a,b,y\n" + b"".join(b"%d,%d,%d\n" % (i, i % 7, i % 2) for i in range(300))
    with _small_budget_server(bundle, tmp_path) as stub:
        first = _HeldUpload(stub, data)
        answers = first.beside(lambda: _describe(stub, [data]))
        described = refused = 0
        while refused < 3:
            answer, held = next(answers)
            described += isinstance(answer, pb.DescribeTaskResponse)  # before the held one
            refused += held
        assert first.finish().n_rows > 0
        for _ in range(500):  # its trim is queued on the thread: let it run before stopping
            if len(trims) > described:
                break
            threading.Event().wait(0.01)
    assert len(trims) == described + 1  # one per upload described; none for the refusals


def test_the_collector_reserves_at_admission_and_keeps_what_was_sent():
    budget = UploadBudget(100)
    first = ChunkCollector(60, budget)
    first.admit()
    assert budget.used == 60  # undeclared: the largest dataset
    second = ChunkCollector(60, budget, declared=30)
    second.admit()
    assert budget.used == 90
    with pytest.raises(ResourceExhaustedError, match=r"this upload needs 0\.1 KiB"):
        ChunkCollector(60, budget).admit()
    first.add(TableFormat.CSV, "y", None, b"x" * 10)
    first.trim()  # the stream ended: 10 bytes held, 50 given back
    assert budget.used == 40
    first.release()
    second.release()
    assert budget.used == 0


def test_the_budget_holds_at_least_one_largest_upload_and_is_set_by_flag_or_env(
    monkeypatch: pytest.MonkeyPatch,
):
    with pytest.raises(InvalidRequestError, match=r"DescribeTask budget .* must be at least"):
        ServerSettings(max_describe_bytes=2 << 20, describe_budget_bytes=1 << 20)
    monkeypatch.setenv("WARMSTART_DESCRIBE_BUDGET_MB", "300")
    assert server_settings().describe_budget_bytes == 300 << 20
    assert server_settings(describe_budget_mb=400).describe_budget_bytes == 400 << 20


def test_the_upload_pace_shares_one_clock_over_all_uploads_and_lends_a_burst():
    pace = UploadPace(rate=4 * MIB, burst=0.25)
    assert pace.book(MIB // 2, now=100.0) == 0.0  # an idle server lends 0.25 s: 1 MiB
    assert pace.book(MIB // 2, now=100.0) == 0.0
    assert pace.book(MIB, now=100.0) == pytest.approx(0.25)  # past the burst: wait
    assert pace.book(MIB, now=100.0) == pytest.approx(0.5)  # another upload queues behind
    assert pace.book(MIB, now=101.0) == pytest.approx(0.0)  # the clock caught up
    assert pace.book(2 * MIB, now=110.0) == pytest.approx(0.25)  # idle again: 0.25 s lent
    unpaced = UploadPace(rate=0)
    assert [unpaced.book(256 * MIB, now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="upload rate"):
        UploadPace(rate=-1.0)


def test_each_chunk_is_paced_before_the_next_is_read(
    bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    booked: list[tuple[int, float]] = []
    book = UploadPace.book

    def recorded(self: UploadPace, size: int, now: float) -> float:
        booked.append((size, self.rate or 0.0))
        return book(self, size, now)

    monkeypatch.setattr(UploadPace, "book", recorded)
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    rows = b"".join(b"%d,%d,%d\n" % (i, i * 7 % 13, i % 2) for i in range(3000))
    parts = [b"a,b,y\n" + rows[:10_000], rows[10_000:20_000], rows[20_000:]]
    chunks = [pb.DescribeTaskChunk(format=CSV, target="y", data=parts[0])]
    chunks += [pb.DescribeTaskChunk(data=p) for p in parts[1:]]
    with (
        ServerThread(registry_with(bundle), store, settings(upload_rate_bytes=MIB)) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        answer = pb_grpc.WarmstartStub(channel).DescribeTask(iter(chunks), timeout=60)
    assert answer.n_rows == 3000
    assert booked == [(len(p), MIB) for p in parts]  # at the settings' rate


def test_the_upload_rate_is_a_server_setting_by_flag_or_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(UPLOAD_RATE_MB_ENV, raising=False)
    assert server_settings().upload_rate_bytes == DEFAULT_UPLOAD_RATE_MB * MIB == 64 * MIB
    monkeypatch.setenv(UPLOAD_RATE_MB_ENV, "16")
    assert server_settings().upload_rate_bytes == 16 * MIB
    assert server_settings(upload_rate_mb=0.0).upload_rate_bytes == 0.0  # the flag wins
    monkeypatch.setenv(UPLOAD_RATE_MB_ENV, "fast")
    with pytest.raises(InvalidRequestError, match="WARMSTART_UPLOAD_RATE_MB must be a number"):
        server_settings()
    monkeypatch.setenv(UPLOAD_RATE_MB_ENV, "nan")
    with pytest.raises(InvalidRequestError, match="upload rate must be a number of MiB/s >= 0"):
        server_settings()
    with pytest.raises(InvalidRequestError, match=r"server settings: the upload rate .* got -1"):
        ServerSettings(upload_rate_bytes=-MIB)


# -- 12. warnings go to the JSON log; a huge meta-feature overflows nothing -----------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    loggers = [logging.getLogger(n) for n in ("warmstart", "py.warnings")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    stream = io.StringIO()
    configure_json_logging("info", stream)
    try:
        yield stream
    finally:
        logging.captureWarnings(False)
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def test_python_warnings_are_json_log_lines(json_log: io.StringIO):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("something odd", RuntimeWarning, stacklevel=1)
    line = json.loads(json_log.getvalue().strip().splitlines()[-1])
    assert line["logger"] == "py.warnings"
    assert line["level"] == "warning"
    assert "RuntimeWarning: something odd" in line["msg"]


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("value", [1e308, -1e308, 1.7976931348623157e308])
def test_a_huge_meta_feature_is_answered_without_an_overflow(
    stub: pb_grpc.WarmstartStub, value: float
):
    """Warnings are errors here, in the server's thread too: an overflow would be INTERNAL."""
    for name in ("f0", "f2"):
        features = [(n, value if n == name else v) for n, v in FEATURES]
        answer = stub.SuggestConfigs(suggest_request(features), timeout=30)
        assert len(answer.suggestions) == 3


def test_the_python_client_declares_its_upload_size_and_fits_beside_a_held_upload(
    bundle: ModelBundle, tmp_path: Path
):
    import pandas as pd

    from warmstart.service.client import WarmstartClient

    rows = b"".join(b"%d,%d,%d\n" % (i, i * 7 % 13, i % 2) for i in range(600))
    small = b"a,b,y\n" + rows[: rows.rindex(b"\n", 0, 6 * 1024) + 1]
    frame = pd.DataFrame({"a": range(200), "b": [i * 7 % 13 for i in range(200)]})
    target = pd.Series([i % 2 for i in range(200)])
    limits = settings(max_describe_bytes=48 * 1024, describe_budget_bytes=64 * 1024)
    store = seed_store(f"sqlite:///{tmp_path / 'warmstart.db'}")
    with (
        ServerThread(registry_with(bundle), store, limits) as server,
        grpc.insecure_channel(server.target) as channel,
        WarmstartClient(server.target) as client,
    ):
        stub = pb_grpc.WarmstartStub(channel)
        held = _HeldUpload(stub, small)
        # Undeclared, an upload reserves the largest dataset (48 KiB): no room beside it.
        refused = _first_refusal(held.beside(lambda: _describe(stub, [small])))
        assert refused.code() == CODE.RESOURCE_EXHAUSTED
        # The client declares its few KiB in the header, which the 16 KiB left can hold.
        described = client.describe(frame, target, "binary")
        assert not held.future.done()
        assert described.task_type.value == "binary"
        assert held.finish().n_rows > 0
