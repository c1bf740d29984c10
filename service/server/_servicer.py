"""The gRPC servicers: each RPC decodes, makes one core call, encodes.

Every call goes through :meth:`CallRunner.run`, which checks the token, refuses a
request that did not decode (see :mod:`~warmstart.service.server._edge`), maps domain errors
through the one table with ``context.abort``, turns any other exception into
INTERNAL with its traceback logged (the server keeps running), and records metrics
and the access log line.

Only bounded work runs on the event loop: a SuggestConfigs request from
meta-features (at most :data:`~warmstart.service.server._edge.MAX_FEATURES` of them) with
no observations that excludes at most :data:`EXCLUDE_ON_LOOP` configs, a few
milliseconds at most. Requests whose decoding grows with their size are decoded and
answered in worker threads: result batches in the loop's default pool (with the store
calls); more excluded configs, suggestions that use observations (inline, or a task
id's stored results: weighing the worlds and fitting the task's own models takes
100 ms or more) and DescribeTask uploads one at a time on a thread of their own (see
``WarmstartServer.start`` for the GIL switch interval that goes with it).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar, cast

import grpc
from google.protobuf.message_factory import GetMessageClass
from grpc import aio

from warmstart.metamodel.errors import StorageError, WarmstartError
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc
from warmstart.service.server._auth import Access, TokenGuard
from warmstart.service.server._batching import Batcher
from warmstart.service.server._dataset import (
    UPLOAD_BYTES_HEADER,
    ChunkCollector,
    UploadBudget,
    UploadPace,
    declared_size,
    release_free_memory,
)
from warmstart.service.server._edge import (
    MAX_EXCLUDE,
    MAX_PAGE_TOKEN_CHARS,
    MAX_PATH_CHARS,
    MAX_SMALL_REQUEST_BYTES,
    MAX_SUGGEST_BYTES,
    MAX_TASK_NAME_CHARS,
    ChunkFields,
    Undecodable,
    decode_chunk,
    parse_request,
    request_deserializer,
    text,
)
from warmstart.service.server._errors import DeadlineExceededError, status_for
from warmstart.service.server._observe import CallMetrics, log_call
from warmstart.service.server._operations import Operations
from warmstart.service.wire import convert
from warmstart.service.wire import tasks as _task_wire
from warmstart.service.wire.api import (
    ReportSummary,
    SuggestAnswer,
    SuggestRequest,
    TaskDescription,
)

__all__ = [
    "EXCLUDE_ON_LOOP",
    "HEAVY_THREAD_PREFIX",
    "AdminServicer",
    "CallRunner",
    "WarmstartServicer",
    "register_services",
]

HEAVY_THREAD_PREFIX = "warmstart-heavy"
"""The name of the thread that long work takes turns on (see :class:`WarmstartServicer`)."""

EXCLUDE_ON_LOOP = 64
"""A SuggestConfigs request from meta-features, without observations, that excludes at
most this many configs is answered on the event loop (batched with others); one that
excludes more, or gives observations, on the thread of long work."""

log = logging.getLogger("warmstart.server")

_T = TypeVar("_T")
_A = TypeVar("_A")
Context = aio.ServicerContext[Any, Any]


class CallRunner:
    """Runs RPC bodies with auth, error mapping, metrics and logs.

    Args:
        guard: The token check.
        metrics: Where calls are counted.
    """

    def __init__(self, guard: TokenGuard, metrics: CallMetrics) -> None:
        self._guard = guard
        self.metrics = metrics

    async def run(
        self,
        rpc: str,
        access: Access,
        context: Context,
        body: Callable[[], Awaitable[_T]],
        request: object = None,
    ) -> _T:
        """Run one call's body; abort the call with the mapped status on failure.

        The call is counted and logged before its answer goes out, so a client
        that has its answer also finds it in the metrics. A ``request`` that did not
        decode is refused after the token check, without running the body.
        """
        start = time.perf_counter()
        try:
            if not self._guard.open_to_all(access):  # open reads skip reading the metadata
                self._guard.check(access, context.invocation_metadata(), rpc)
            if isinstance(request, Undecodable):
                raise request.error()
            result = await body()
        except WarmstartError as exc:
            code, message = status_for(exc)
            if isinstance(exc, StorageError):
                log.warning("%s: database failure: %s", rpc, exc)
        except asyncio.CancelledError:
            self._record(rpc, grpc.StatusCode.CANCELLED, start, context)
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            incident = uuid.uuid4().hex[:12]
            log.exception("%s failed unexpectedly (incident %s)", rpc, incident)
            message = f"internal error (incident {incident}); the server logged the cause"
        else:
            self._record(rpc, grpc.StatusCode.OK, start, context)
            return result
        self._record(rpc, code, start, context)
        return await context.abort(code, message)  # abort raises: the call ends here

    def _record(self, rpc: str, code: grpc.StatusCode, start: float, context: Context) -> None:
        seconds = time.perf_counter() - start
        self.metrics.observe(rpc, code.name, seconds)
        log_call(rpc, code.name, seconds * 1000, context.peer())

    def may_write(self, context: Context, rpc: str) -> bool:
        """Whether a call sends a token, checked as a write token: the calls that store
        what they compute when they may (DescribeTask).

        Raises:
            UnauthenticatedError: The token is malformed or unknown.
            PermissionDeniedError: The server has no write token at all.
        """
        metadata = context.invocation_metadata()
        if not self._guard.sends_token(metadata):
            return False
        self._guard.check(Access.WRITE, metadata, rpc)
        return True

    @staticmethod
    async def blocking(
        context: Context,
        work: Callable[[_A], _T],
        argument: _A,
        executor: ThreadPoolExecutor | None = None,
    ) -> _T:
        """Run blocking core work in a thread (of ``executor``, else the loop's default
        pool), unless the caller's deadline has passed."""
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceededError("the deadline passed before the work started")
        if executor is None:
            return await asyncio.to_thread(work, argument)
        return await asyncio.get_running_loop().run_in_executor(executor, work, argument)

    @staticmethod
    async def compute(context: Context, batcher: Batcher[_A, _T], argument: _A) -> _T:
        """Run short CPU-bound core work on the event loop, batched with the calls that
        arrive with it, unless the deadline has passed.

        A suggestion from meta-features takes about a millisecond of CPU and holds the GIL
        for most of it: handing it to a thread buys no parallelism and adds GIL
        hand-offs that cost more than the work (5.1 against 2.8 ms of server CPU per call
        at 16 concurrent callers, ``benchmarks/perf/suggest_load.py``). Work that waits on
        the store goes through :meth:`blocking` instead.
        """
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceededError("the deadline passed before the work started")
        return await batcher.submit(argument)


class WarmstartServicer(pb_grpc.WarmstartServicer):
    """The ``warmstart.v1.Warmstart`` service.

    Args:
        operations: The core calls.
        runner: Auth, errors, metrics, logs.
        max_describe_bytes: The byte limit of one DescribeTask stream.
        batch_wait: Seconds a SuggestConfigs call may wait on a busy server for others to
            be answered with it (see :class:`~warmstart.service.server._batching.Batcher`).
        describe_budget_bytes: The byte limit of all DescribeTask streams at once
            (default: no limit but each stream's).
        upload_rate: Bytes a second of DescribeTask data read over all streams (see
            :class:`~warmstart.service.server._dataset.UploadPace`); ``None``: unpaced.
    """

    def __init__(
        self,
        operations: Operations,
        runner: CallRunner,
        max_describe_bytes: int,
        *,
        batch_wait: float = 0.001,
        describe_budget_bytes: int | None = None,
        upload_rate: float | None = None,
    ) -> None:
        self._ops = operations
        self._runner = runner
        self._max_describe = max_describe_bytes
        self._uploads = UploadBudget(describe_budget_bytes or max_describe_bytes)
        self._pace = UploadPace(upload_rate)
        # Long CPU-bound work (many excluded configs, uploads) takes turns on one thread:
        # the GIL runs one of them at a time anyway, and each more thread that wants it
        # delays the event loop's turns (health checks, small calls) further.
        self._heavy = ThreadPoolExecutor(1, thread_name_prefix=HEAVY_THREAD_PREFIX)
        self._closed = False
        self._suggestions: Batcher[SuggestRequest, SuggestAnswer] = Batcher(
            operations.suggest_many,
            max_wait=batch_wait,
            on_batch=runner.metrics.observe_batch,
        )

    async def SuggestConfigs(  # noqa: N802 - the proto names it
        self, request: pb.SuggestConfigsRequest, context: Context
    ) -> pb.SuggestConfigsResponse:
        """k configs for a task in a space.

        The response goes out already serialized (see :func:`register_services`), so the
        value returned is its bytes, whatever the generated signature says.
        """

        async def body() -> bytes:
            convert.check_suggest_counts(request)
            if (
                len(request.exclude) > EXCLUDE_ON_LOOP
                or len(request.observations) > 0
                or request.WhichOneof("task") == "task_id"
            ):
                # Checking excluded configs takes time that grows with them (about 30 us
                # each, decoding included), and observations (given, or the stored results
                # a task id brings) make the answer 100 ms or more of work: in the thread
                # of long work, where it takes turns with the rest of it.
                answer = await self._runner.blocking(
                    context, self._suggest_decoding, request, self._heavy
                )
                return convert.suggest_answer_to_bytes(answer)
            decoded = convert.suggest_request_from_proto(request)
            with self._suggestions.attending():  # company for calls arriving meanwhile
                answer = await self._runner.compute(context, self._suggestions, decoded)
                return convert.suggest_answer_to_bytes(answer)

        encoded = await self._runner.run("SuggestConfigs", Access.READ, context, body, request)
        return cast(pb.SuggestConfigsResponse, encoded)

    def _suggest_decoding(self, request: pb.SuggestConfigsRequest) -> SuggestAnswer:
        return self._ops.suggest(convert.suggest_request_from_proto(request))

    def _report_decoding(self, data: bytes) -> ReportSummary:
        request = parse_request(pb.ReportResultsRequest, "ReportResults", data)
        self._ops.check_batch_size(len(request.results))
        return self._ops.report(convert.results_from_proto(request))

    async def ReportResults(  # type: ignore[override]  # noqa: N802 - the proto names it
        self, request: bytes, context: Context
    ) -> pb.ReportResultsResponse:
        """Store a batch of results, all or nothing, idempotent by id.

        The request comes serialized (see :func:`register_services`): a batch of up to
        the message size limit takes protobuf about 100 ms to parse, holding the GIL, so
        it is parsed only once the token is checked, in a worker thread.
        """

        async def body() -> pb.ReportResultsResponse:
            summary = await self._runner.blocking(context, self._report_decoding, request)
            return convert.report_summary_to_proto(summary)

        return await self._runner.run("ReportResults", Access.WRITE, context, body, request)

    async def DescribeTask(  # type: ignore[override]  # noqa: N802 - the proto names it
        self, request_iterator: AsyncIterator[ChunkFields | Undecodable], context: Context
    ) -> pb.DescribeTaskResponse:
        """Meta-features of a dataset streamed in chunks; with a write token the task is
        also stored and its id returned (without one nothing is stored).

        The stream is admitted to the budget of all streams at once before any of it is
        read (it reserves its declared size, else the largest dataset), or refused with
        RESOURCE_EXHAUSTED; its byte limit is enforced as chunks arrive, and the bytes it
        sent stay counted against the budget until the answer is computed.
        """

        async def body() -> pb.DescribeTaskResponse:
            store = self._runner.may_write(context, "DescribeTask")
            header = dict(context.invocation_metadata() or ()).get(UPLOAD_BYTES_HEADER)
            declared = declared_size(header, self._max_describe)
            collector = ChunkCollector(self._max_describe, self._uploads, declared)
            name = probe_space = ""
            try:
                collector.admit()  # in the budget or refused, before any data is read
                async for chunk in request_iterator:
                    if isinstance(chunk, Undecodable):
                        raise chunk.error()
                    collector.add(*convert.chunk_header(chunk), chunk.data)
                    name = text(chunk.name, "name", MAX_TASK_NAME_CHARS) or name
                    probe_space = text(chunk.probe_space, "probe_space") or probe_space
                    await self._pace.pace(len(chunk.data))  # before asking for the next
                collector.trim()  # the stream is whole: keep only what it sent
                description = await self._runner.blocking(
                    context, self._describe, (collector, name, probe_space, store), self._heavy
                )
            finally:
                collector.release()
                if collector.chunks and not self._closed:  # after an upload, off the loop
                    self._heavy.submit(release_free_memory)
            return convert.description_to_proto(description)

        return await self._runner.run("DescribeTask", Access.READ, context, body)

    async def close(self) -> None:
        """Shut down the thread of long work once the server has stopped taking calls.

        Work that has started runs to its end (an upload being described with a write
        token still stores its task, before the store is closed); work still queued
        belongs to calls that gRPC has cancelled at the end of the grace period, whose
        clients were told so, and is dropped. Waits off the event loop; returns when the
        thread has exited. Idempotent.
        """
        self._closed = True
        await asyncio.to_thread(self._heavy.shutdown, wait=True, cancel_futures=True)

    def _describe(self, asked: tuple[ChunkCollector, str, str, bool]) -> TaskDescription:
        collector, name, probe_space, store = asked
        upload = replace(collector.finish(), name=name, probe_space=probe_space)
        return self._ops.describe(upload, store=store)

    async def RegisterTask(  # noqa: N802 - the proto names it
        self, request: pb.RegisterTaskRequest, context: Context
    ) -> pb.RegisterTaskResponse:
        """Store a task whose meta-features the client computed (write token)."""

        async def body() -> pb.RegisterTaskResponse:
            registration = _task_wire.registration_from_proto(request)
            registered = await self._runner.blocking(context, self._ops.register_task, registration)
            return _task_wire.registered_to_proto(registered)

        return await self._runner.run("RegisterTask", Access.WRITE, context, body, request)

    async def ListTasks(  # noqa: N802 - the proto names it
        self, request: pb.ListTasksRequest, context: Context
    ) -> pb.ListTasksResponse:
        """A page of the tasks the service knows."""

        async def body() -> pb.ListTasksResponse:
            asked = (
                int(request.page_size),
                text(request.page_token, "page_token", MAX_PAGE_TOKEN_CHARS),
                text(request.name_prefix, "name_prefix"),
            )
            listing = await self._runner.blocking(
                context, lambda a: self._ops.list_tasks(*a), asked
            )
            return _task_wire.task_listing_to_proto(listing)

        return await self._runner.run("ListTasks", Access.READ, context, body, request)

    async def GetTask(  # noqa: N802 - the proto names it
        self, request: pb.GetTaskRequest, context: Context
    ) -> pb.GetTaskResponse:
        """One task with its meta-features and results per space."""

        async def body() -> pb.GetTaskResponse:
            task_id = text(request.task_id, "task_id")
            detail = await self._runner.blocking(context, self._ops.get_task, task_id)
            return _task_wire.task_detail_to_proto(detail)

        return await self._runner.run("GetTask", Access.READ, context, body, request)

    async def ListSearchSpaces(  # noqa: N802 - the proto names it
        self, request: pb.ListSearchSpacesRequest, context: Context
    ) -> pb.ListSearchSpacesResponse:
        """Every search space the service knows."""

        async def body() -> pb.ListSearchSpacesResponse:
            spaces = await self._runner.blocking(context, lambda _: self._ops.list_spaces(), None)
            return pb.ListSearchSpacesResponse(spaces=[convert.space_to_proto(s) for s in spaces])

        return await self._runner.run("ListSearchSpaces", Access.READ, context, body, request)

    async def GetSearchSpace(  # noqa: N802 - the proto names it
        self, request: pb.GetSearchSpaceRequest, context: Context
    ) -> pb.SearchSpace:
        """One search space by name or id (ConfigSpace JSON)."""

        async def body() -> pb.SearchSpace:
            space = text(request.space, "space")
            return convert.space_to_proto(
                await self._runner.blocking(context, self._ops.get_space, space)
            )

        return await self._runner.run("GetSearchSpace", Access.READ, context, body, request)

    async def GetModelInfo(  # noqa: N802 - the proto names it
        self, request: pb.GetModelInfoRequest, context: Context
    ) -> pb.ModelInfo:
        """What the served model is."""

        async def body() -> pb.ModelInfo:
            space = text(request.space, "space")
            summary = await self._runner.blocking(context, self._ops.model_info, space)
            return convert.model_summary_to_proto(summary)

        return await self._runner.run("GetModelInfo", Access.READ, context, body, request)


class AdminServicer(pb_grpc.WarmstartAdminServicer):
    """The ``warmstart.v1.WarmstartAdmin`` service (admin token only)."""

    def __init__(self, operations: Operations, runner: CallRunner) -> None:
        self._ops = operations
        self._runner = runner

    async def ReloadModel(  # noqa: N802 - the proto names it
        self, request: pb.ReloadModelRequest, context: Context
    ) -> pb.ReloadModelResponse:
        """Load bundles and swap them in atomically."""

        async def body() -> pb.ReloadModelResponse:
            path = text(request.path, "path", MAX_PATH_CHARS)
            outcome = await self._runner.blocking(context, self._ops.reload, path)
            return convert.reload_to_proto(outcome)

        return await self._runner.run("ReloadModel", Access.ADMIN, context, body, request)


class _Captured:
    """Stands in for a server to receive the generated code's method handlers."""

    def __init__(self) -> None:
        self.service = ""
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        """Ignored: the handlers are registered from :attr:`handlers`."""

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        """Keep the service's name and its handlers by method name."""
        self.service, self.handlers = service, dict(handlers)


def _serialized(response: bytes | pb.SuggestConfigsResponse) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


_SMALL = (MAX_SMALL_REQUEST_BYTES, "")
_SIZE_LIMITS = {
    "SuggestConfigs": (
        MAX_SUGGEST_BYTES,
        f" (room for {MAX_EXCLUDE} excluded configs, the most allowed)",
    ),
    "ListSearchSpaces": _SMALL,
    "GetSearchSpace": _SMALL,
    "GetModelInfo": _SMALL,
    "RegisterTask": (MAX_SUGGEST_BYTES, ""),
    "ListTasks": _SMALL,
    "GetTask": _SMALL,
    "ReloadModel": _SMALL,
}


def _unparsed(data: bytes) -> bytes:
    return data


def _edge_handlers(captured: _Captured, service: str) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """The captured handlers with request deserializers that never raise (see ``_edge``)."""
    methods = pb.DESCRIPTOR.services_by_name[service].methods_by_name
    handlers = {}
    for name, handler in captured.handlers.items():
        parse: Callable[[bytes], object] = GetMessageClass(methods[name].input_type).FromString
        if name == "DescribeTask":  # chunks: a few fields read, the data kept in place
            parse = decode_chunk
        elif name == "ReportResults":  # parsed after the token check, in a worker thread
            parse = _unparsed
        limit, hint = _SIZE_LIMITS.get(name, (None, ""))
        handlers[name] = handler._replace(  # type: ignore[attr-defined]
            request_deserializer=request_deserializer(parse, name, limit, hint)
        )
    return handlers


def _register(
    server: aio.Server, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_registered_method_handlers(service, handlers)


def register_services(
    server: aio.Server, servicer: WarmstartServicer, admin: AdminServicer
) -> None:
    """Register both services as the generated code does, except that requests are
    decoded by :func:`~warmstart.service.server._edge.request_deserializer` (an undecodable one is
    refused as INVALID_ARGUMENT by the servicer, logged and counted), and SuggestConfigs
    hands gRPC its response as bytes (built from cached fragments): building the message
    only for gRPC to serialize it again cost a tenth of the call."""
    captured = _Captured()
    pb_grpc.add_WarmstartServicer_to_server(servicer, cast(aio.Server, captured))
    handlers = _edge_handlers(captured, "Warmstart")
    handlers["SuggestConfigs"] = handlers["SuggestConfigs"]._replace(  # type: ignore[attr-defined]
        response_serializer=_serialized
    )
    _register(server, captured.service, handlers)
    captured = _Captured()
    pb_grpc.add_WarmstartAdminServicer_to_server(admin, cast(aio.Server, captured))
    _register(server, captured.service, _edge_handlers(captured, "WarmstartAdmin"))
