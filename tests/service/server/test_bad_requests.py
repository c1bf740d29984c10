"""Bad requests → status code and a message that says what is wrong, and nothing stored.

One table, one server (small limits so the size cases stay cheap), the real stubs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pyarrow as pa
import pytest

from tests.service.server.conftest import (
    ADMIN_TOKEN,
    TASK_IDS,
    WRITE_TOKEN,
    ServerThread,
    registry_with,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.recommend import MAX_K
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc

MAX_MESSAGE = 256 * 1024
MAX_DESCRIBE = 64 * 1024
MAX_RESULTS = 50
TASK = TASK_IDS[0]
CODE = grpc.StatusCode


@dataclass
class Stubs:
    main: pb_grpc.WarmstartStub
    admin: pb_grpc.WarmstartAdminStub
    counter: list[int]

    def next_id(self) -> str:
        self.counter[0] += 1
        return f"bad-table-{self.counter[0]}"


@pytest.fixture(scope="module")
def server(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    store = seed_store(f"sqlite:///{tmp_path_factory.mktemp('bad') / 'warmstart.db'}")
    limits = settings(
        max_message_bytes=MAX_MESSAGE, max_describe_bytes=MAX_DESCRIBE, max_results=MAX_RESULTS
    )
    with ServerThread(registry_with(bundle), store, limits) as running:
        yield running


@pytest.fixture(scope="module")
def stubs(server: ServerThread) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs(pb_grpc.WarmstartStub(channel), pb_grpc.WarmstartAdminStub(channel), [0])


def _value(v: object) -> pb.ParameterValue:
    if isinstance(v, bool):
        return pb.ParameterValue(bool_value=v)
    if isinstance(v, int):
        return pb.ParameterValue(int_value=v)
    if isinstance(v, float):
        return pb.ParameterValue(double_value=v)
    if isinstance(v, str):
        return pb.ParameterValue(string_value=v)
    return pb.ParameterValue()  # no kind set


def config(**values: object) -> pb.Config:
    return pb.Config(parameters={k: _value(v) for k, v in values.items()})


GOOD = {"C": 1.0, "kernel": "linear", "shrinking": True}
AUTH_WRITE = (("authorization", f"Bearer {WRITE_TOKEN}"),)
AUTH_ADMIN = (("authorization", f"Bearer {ADMIN_TOKEN}"),)


def suggest(s: Stubs, features: list[tuple[str, float]] | None = None, **fields: Any) -> None:
    request = pb.SuggestConfigsRequest(space=fields.pop("space", "svm_like"), k=fields.pop("k", 3))
    if features is not None:
        request.features.feature_version = fields.pop("version", "test-1")
        request.features.features.extend(pb.MetaFeature(name=k, value=v) for k, v in features)
    if "task_id" in fields:
        request.task_id = fields.pop("task_id")
    if "exclude" in fields:
        request.exclude.append(fields.pop("exclude"))
    if "max_fit" in fields:
        request.constraints.max_fit_seconds = fields.pop("max_fit")
    assert not fields
    s.main.SuggestConfigs(request, timeout=30)


def result(s: Stubs, **fields: Any) -> pb.Result:
    base: dict[str, Any] = {
        "id": s.next_id(),
        "task_id": TASK,
        "space": "svm_like",
        "config": config(**GOOD),
        "status": pb.RESULT_STATUS_OK,
        "score": 0.5,
        "seed": s.counter[0],
    }
    base.update(fields)
    return pb.Result(**{k: v for k, v in base.items() if v is not None})


def report(s: Stubs, *bad: pb.Result, metadata: Any = AUTH_WRITE, good: bool = True) -> None:
    """Report one valid result followed by the bad ones: the valid one must not be stored."""
    results = ([result(s)] if good else []) + list(bad)
    s.main.ReportResults(pb.ReportResultsRequest(results=results), timeout=30, metadata=metadata)


def describe(s: Stubs, *chunks: pb.DescribeTaskChunk) -> None:
    s.main.DescribeTask(iter(chunks), timeout=30)


def arrow(n_rows: int) -> bytes:
    table = pa.table({"a": list(range(n_rows)), "y": [i % 2 for i in range(n_rows)]})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


ARROW = pb.DescribeTaskChunk.FORMAT_ARROW_IPC
CSV = pb.DescribeTaskChunk.FORMAT_CSV
F = [("f0", 0.3), ("f1", 0.7)]

Case = Callable[[Stubs], object]
CASES: list[tuple[str, Case, grpc.StatusCode, str]] = [
    # SuggestConfigs
    ("unknown space", lambda s: suggest(s, F, space="nope"), CODE.NOT_FOUND,
     "no model serves space 'nope'; served spaces: svm_like"),
    ("unknown task id", lambda s: suggest(s, task_id="ghost"), CODE.NOT_FOUND,
     "unknown task_id 'ghost'"),
    ("no task", lambda s: suggest(s), CODE.INVALID_ARGUMENT, "no task given"),
    ("k = 0", lambda s: suggest(s, F, k=0), CODE.INVALID_ARGUMENT,
     f"k must be an integer in [1, {MAX_K}], got 0"),
    ("k > MAX_K", lambda s: suggest(s, F, k=MAX_K + 1), CODE.INVALID_ARGUMENT,
     f"got {MAX_K + 1}"),
    ("only NaN features", lambda s: suggest(s, [("f0", math.nan)]), CODE.INVALID_ARGUMENT,
     "every meta-feature is missing or NaN"),
    ("inf feature", lambda s: suggest(s, [("f0", math.inf)]), CODE.INVALID_ARGUMENT,
     "must be finite or NaN (undefined), got inf for f0"),
    ("unknown feature", lambda s: suggest(s, [*F, ("bogus", 1.0)]), CODE.INVALID_ARGUMENT,
     "unknown meta-feature name(s): bogus"),
    ("feature twice", lambda s: suggest(s, [*F, ("f0", 1.0)]), CODE.INVALID_ARGUMENT,
     "meta-feature 'f0' is given twice"),
    ("wrong feature version", lambda s: suggest(s, F, version="mf-0"), CODE.INVALID_ARGUMENT,
     "feature_version 'mf-0' does not match the model's 'test-1'"),
    ("exclude wrong type", lambda s: suggest(s, F, exclude=config(C="big", kernel="linear",
     shrinking=True)), CODE.INVALID_ARGUMENT, "exclude[0]: parameter 'C' must be a number"),
    ("exclude out of range", lambda s: suggest(s, F, exclude=config(C=1e6, kernel="linear",
     shrinking=True)), CODE.INVALID_ARGUMENT, "must be a number in [0.001, 1000.0], log scale"),
    ("exclude inactive param", lambda s: suggest(s, F, exclude=config(**GOOD, degree=3)),
     CODE.INVALID_ARGUMENT, "exclude[0]: parameter(s) set that are inactive"),
    ("exclude untyped value", lambda s: suggest(s, F, exclude=config(**GOOD, gamma=None)),
     CODE.INVALID_ARGUMENT, "parameter 'gamma' has no value"),
    ("negative max fit", lambda s: suggest(s, F, max_fit=-1.0), CODE.INVALID_ARGUMENT,
     "max_fit_seconds must be a finite number > 0"),
    # ReportResults
    ("result wrong type", lambda s: report(s, result(s, config=config(C=1.0, kernel=1,
     shrinking=True))), CODE.INVALID_ARGUMENT, "parameter 'kernel' must be one of"),
    ("result bool for number", lambda s: report(s, result(s, config=config(C=True,
     kernel="linear", shrinking=True))), CODE.INVALID_ARGUMENT, "parameter 'C' must be a number"),
    ("result out of range", lambda s: report(s, result(s, config=config(C=1.0, kernel="poly",
     degree=9, shrinking=True))), CODE.INVALID_ARGUMENT,
     "parameter 'degree' must be an integer in [2, 5]"),
    ("result inactive param", lambda s: report(s, result(s, config=config(**GOOD, gamma=0.1))),
     CODE.INVALID_ARGUMENT, "inactive under this config's other values"),
    ("result missing active param", lambda s: report(s, result(s, config=config(C=1.0,
     kernel="rbf", shrinking=True))), CODE.INVALID_ARGUMENT, "parameter(s) missing: 'gamma'"),
    ("result unknown param", lambda s: report(s, result(s, config=config(**GOOD, depth=3))),
     CODE.INVALID_ARGUMENT, "unknown parameter(s) 'depth'"),
    ("missing id", lambda s: report(s, result(s, id="")), CODE.INVALID_ARGUMENT,
     "results[1]: id is empty"),
    ("duplicate ids", lambda s: report(s, result(s, id="twice"), result(s, id="twice")),
     CODE.INVALID_ARGUMENT, "id 'twice' appears more than once in this batch"),
    ("same evaluation twice", lambda s: report(s, result(s, seed=7), result(s, seed=7)),
     CODE.INVALID_ARGUMENT, "the same evaluation (task, space, config, seed, fidelity)"),
    ("result unknown task", lambda s: report(s, result(s, task_id="ghost")), CODE.NOT_FOUND,
     "unknown task_id 'ghost'"),
    ("result unknown space", lambda s: report(s, result(s, space="nope")), CODE.NOT_FOUND,
     "results[1]: unknown space 'nope'"),
    ("score with FAILED", lambda s: report(s, result(s, status=pb.RESULT_STATUS_FAILED)),
     CODE.INVALID_ARGUMENT, "status FAILED must not carry a score"),
    ("OK without score", lambda s: report(s, result(s, score=None)), CODE.INVALID_ARGUMENT,
     "status OK needs a score"),
    ("NaN score", lambda s: report(s, result(s, score=math.nan)), CODE.INVALID_ARGUMENT,
     "score must be a finite number, got nan"),
    ("inf metric", lambda s: report(s, result(s, metrics={"auc": math.inf})),
     CODE.INVALID_ARGUMENT, "metrics must have names and finite values"),
    ("negative fit time", lambda s: report(s, result(s, fit_seconds=-1.0)),
     CODE.INVALID_ARGUMENT, "fit_seconds must be a finite number >= 0"),
    ("unspecified status", lambda s: report(s, result(s, status=pb.RESULT_STATUS_UNSPECIFIED,
     score=None)), CODE.INVALID_ARGUMENT, "status is unspecified; use OK, FAILED or TIMEOUT"),
    ("empty batch", lambda s: report(s, good=False), CODE.INVALID_ARGUMENT, "no results"),
    ("batch too large", lambda s: report(s, *[result(s) for _ in range(MAX_RESULTS)]),
     CODE.INVALID_ARGUMENT, f"at most {MAX_RESULTS} are allowed: split the batch"),
    ("oversized message", lambda s: report(s, result(s, error="x" * MAX_MESSAGE)),
     CODE.RESOURCE_EXHAUSTED, "message larger than max"),
    ("no token", lambda s: report(s, result(s), metadata=()), CODE.UNAUTHENTICATED,
     "ReportResults needs a token: send metadata 'authorization: Bearer <token>'"),
    ("wrong token", lambda s: report(s, result(s), metadata=(("authorization", "Bearer nope"),)),
     CODE.UNAUTHENTICATED, "the bearer token is not valid"),
    ("not a bearer header", lambda s: report(s, metadata=(("authorization", WRITE_TOKEN),)),
     CODE.UNAUTHENTICATED, "must be 'Bearer <token>'"),
    # DescribeTask
    ("oversized stream", lambda s: describe(s, *[pb.DescribeTaskChunk(format=CSV, target="y",
     data=b"a,y\n")] + [pb.DescribeTaskChunk(data=b"1,0\n" * 4096)] * 8),
     CODE.RESOURCE_EXHAUSTED, f"describes datasets of at most {MAX_DESCRIBE} bytes"),
    ("malformed CSV", lambda s: describe(s, pb.DescribeTaskChunk(format=CSV, target="y",
     data=b"a,y\n1,0\n2,1,5,6\n")), CODE.INVALID_ARGUMENT, "not UTF-8 CSV with a header row"),
    ("CSV not UTF-8", lambda s: describe(s, pb.DescribeTaskChunk(format=CSV, target="y",
     data=b"a,y\n\xff\xfe,1\n")), CODE.INVALID_ARGUMENT, "not UTF-8 CSV"),
    ("malformed Arrow", lambda s: describe(s, pb.DescribeTaskChunk(format=ARROW, target="y",
     data=arrow(50)[:-90])), CODE.INVALID_ARGUMENT, "not an Arrow IPC stream"),
    ("missing target", lambda s: describe(s, pb.DescribeTaskChunk(format=ARROW, target="label",
     data=arrow(50))), CODE.INVALID_ARGUMENT,
     "target column 'label' is not in the data; its columns are: 'a', 'y'"),
    ("no target named", lambda s: describe(s, pb.DescribeTaskChunk(format=CSV, data=b"a,y\n")),
     CODE.INVALID_ARGUMENT, "the first chunk must name the target column"),
    ("no format", lambda s: describe(s, pb.DescribeTaskChunk(target="y", data=b"a,y\n")),
     CODE.INVALID_ARGUMENT, "the first chunk must set format"),
    ("unknown format", lambda s: describe(s, pb.DescribeTaskChunk(format=7, target="y",  # type: ignore[arg-type]
     data=b"a,y\n")), CODE.INVALID_ARGUMENT, "unknown format 7"),
    ("bad task type", lambda s: describe(s, pb.DescribeTaskChunk(format=CSV, target="y",
     task_type="ranking", data=b"a,y\n1,0\n")), CODE.INVALID_ARGUMENT,
     "task_type must be 'binary', 'multiclass', 'regression' or empty"),
    ("empty stream", lambda s: describe(s), CODE.INVALID_ARGUMENT, "the stream is empty"),
    # spaces, model info, admin
    ("unknown space info", lambda s: s.main.GetSearchSpace(pb.GetSearchSpaceRequest(space="nope")),
     CODE.NOT_FOUND, "no search space named or with id 'nope'; known spaces: svm_like"),
    ("model info unknown space", lambda s: s.main.GetModelInfo(
     pb.GetModelInfoRequest(space="nope")), CODE.NOT_FOUND, "no model serves space 'nope'"),
    ("write token on admin", lambda s: s.admin.ReloadModel(pb.ReloadModelRequest(),
     metadata=AUTH_WRITE), CODE.PERMISSION_DENIED, "ReloadModel needs an admin token"),
    ("no token on admin", lambda s: s.admin.ReloadModel(pb.ReloadModelRequest()),
     CODE.UNAUTHENTICATED, "ReloadModel needs a token"),
    ("reload from nowhere", lambda s: s.admin.ReloadModel(pb.ReloadModelRequest(
     path="/nonexistent/model.wsb"), metadata=AUTH_ADMIN), CODE.INVALID_ARGUMENT,
     "no model bundle at /nonexistent/model.wsb"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "code", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_request_is_refused_with_a_clear_message_and_stores_nothing(
    server: ServerThread, stubs: Stubs, call: Case, code: grpc.StatusCode, fragment: str
) -> None:
    before = server.store.count_records()
    with pytest.raises(grpc.RpcError) as info:
        call(stubs)
    error = info.value
    assert isinstance(error, grpc.Call)
    assert error.code() == code, error.details()
    assert fragment in (error.details() or ""), error.details()
    assert server.store.count_records() == before


def test_the_table_is_wide_and_the_server_still_serves(server: ServerThread, stubs: Stubs) -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 25
    report(stubs, good=True)  # the valid half of a batch on its own is stored
    assert server.store.count_records() == 1
