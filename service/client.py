"""The Python client of the warmstart gRPC service.

>>> with WarmstartClient("localhost:50051", token="...") as client:  # doctest: +SKIP
...     task = client.describe(X, y)
...     answer = client.suggest(task.as_dict(), "lightgbm", k=5,
...                             feature_version=task.features.version)
...     for s in answer.suggestions:
...         print(s.config, s.predicted_score)

Results are frozen dataclasses with plain Python values (``int`` for integer
parameters, ``float``, ``str``, ``bool``). Calls that fail raise a
:class:`WarmstartRpcError` subclass carrying the status code and the server's
message. Only ``UNAVAILABLE`` is retried, with exponential backoff and full
jitter: every call is safe to repeat (reports are idempotent by result id).
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
import pandas as pd
import pyarrow as pa

from warmstart.metamodel.types import ConfigValue, Observation, Task, TaskType
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc
from warmstart.service.wire import convert
from warmstart.service.wire import tasks as task_wire
from warmstart.service.wire.api import (
    DescribeUpload,
    ModelSummary,
    ReloadOutcome,
    ReportedResult,
    ReportSummary,
    SpaceInfo,
    SuggestAnswer,
    SuggestRequest,
    TableFormat,
    TaskDescription,
)
from warmstart.service.wire.limits import UPLOAD_BYTES_HEADER
from warmstart.service.wire.tasks import (
    RegisteredTask,
    TaskDetail,
    TaskListing,
    TaskRegistration,
)

__all__ = [
    "AlreadyExistsRpcError",
    "FailedPreconditionRpcError",
    "InvalidArgumentRpcError",
    "NotFoundRpcError",
    "PermissionDeniedRpcError",
    "ReportedResult",
    "ResourceExhaustedRpcError",
    "UnauthenticatedRpcError",
    "UnavailableRpcError",
    "WarmstartClient",
    "WarmstartRpcError",
]

_T = TypeVar("_T")
_CHUNK_BYTES = 1024 * 1024
_TARGET_COLUMN = "__warmstart_target__"


class WarmstartRpcError(Exception):
    """A call the server (or the network) refused.

    Attributes:
        code: The gRPC status code.
        message: The server's message: what was wrong and what is allowed.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class InvalidArgumentRpcError(WarmstartRpcError):
    """INVALID_ARGUMENT: the request is malformed or out of range."""


class NotFoundRpcError(WarmstartRpcError):
    """NOT_FOUND: an unknown task, space or model."""


class AlreadyExistsRpcError(WarmstartRpcError):
    """ALREADY_EXISTS: a result id reported before with another payload."""


class FailedPreconditionRpcError(WarmstartRpcError):
    """FAILED_PRECONDITION: the service cannot serve this now (e.g. no model loaded)."""


class UnauthenticatedRpcError(WarmstartRpcError):
    """UNAUTHENTICATED: no token, or a token the server does not know."""


class PermissionDeniedRpcError(WarmstartRpcError):
    """PERMISSION_DENIED: the token may not make this call."""


class ResourceExhaustedRpcError(WarmstartRpcError):
    """RESOURCE_EXHAUSTED: the request is larger than the server accepts."""


class UnavailableRpcError(WarmstartRpcError):
    """UNAVAILABLE: the server or its database cannot be reached (after the retries)."""


_ERRORS: dict[grpc.StatusCode, type[WarmstartRpcError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentRpcError,
    grpc.StatusCode.NOT_FOUND: NotFoundRpcError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsRpcError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionRpcError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedRpcError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedRpcError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedRpcError,
    grpc.StatusCode.UNAVAILABLE: UnavailableRpcError,
}


def _error(exc: grpc.RpcError) -> WarmstartRpcError:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    message = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return _ERRORS.get(code, WarmstartRpcError)(code, message or "")


def _to_ipc(X: Any, y: Any) -> bytes:
    frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    frame.columns = pd.Index([str(c) if isinstance(X, pd.DataFrame) else f"x{c}" for c in frame])
    frame[_TARGET_COLUMN] = pd.Series(y).to_numpy()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


class WarmstartClient:
    """A connection to a warmstart server.

    Args:
        target: ``host:port`` of the server.
        token: Bearer token sent with every call (writes and admin calls need one).
        root_certificates: PEM of the CA (or self-signed certificate) to trust;
            given, the channel uses TLS. ``True`` uses TLS with the system's roots.
        timeout: Deadline of each call, in seconds.
        retries: How many times a call that fails with UNAVAILABLE is repeated.
        backoff: First backoff in seconds; doubled each retry, capped at ``max_backoff``,
            with full jitter.
        max_backoff: Longest wait between two attempts.
        max_message_bytes: Largest message the client sends or receives.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        root_certificates: bytes | Path | bool | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]
        if root_certificates is None or root_certificates is False:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            pem: bytes | None
            if isinstance(root_certificates, Path):
                pem = root_certificates.read_bytes()
            elif isinstance(root_certificates, bytes):
                pem = root_certificates
            else:
                pem = None
            credentials = grpc.ssl_channel_credentials(root_certificates=pem)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._stub = pb_grpc.WarmstartStub(self._channel)
        self._admin = pb_grpc.WarmstartAdminStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.chunk_bytes = min(_CHUNK_BYTES, max_message_bytes // 2)
        self._sleep: Callable[[float], None] = time.sleep

    def __enter__(self) -> WarmstartClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _call(
        self,
        method: Callable[..., _T],
        request: Callable[[], Any],
        headers: tuple[tuple[str, str], ...] = (),
    ) -> _T:
        """Call with the deadline, token and ``headers``; retry UNAVAILABLE with backoff and
        jitter."""
        attempt = 0
        metadata = self._metadata + headers
        while True:
            try:
                return method(request(), timeout=self.timeout, metadata=metadata)
            except grpc.RpcError as exc:
                error = _error(exc)
                if error.code is not grpc.StatusCode.UNAVAILABLE or attempt >= self.retries:
                    raise error from None
            ceiling = min(self.max_backoff, self.backoff * 2**attempt)
            self._sleep(random.uniform(0, ceiling))
            attempt += 1

    def suggest(
        self,
        task: Mapping[str, float] | str,
        space: str,
        k: int = 5,
        *,
        feature_version: str = "",
        max_fit_seconds: float | None = None,
        exclude: Iterable[Mapping[str, ConfigValue]] = (),
        train_rows: int | None = None,
        observations: Iterable[Observation | tuple[Mapping[str, ConfigValue], float]] = (),
    ) -> SuggestAnswer:
        """Ask for ``k`` configs of ``space`` for a task.

        With a task id, the task's results reported in the space steer the answer, with
        ``observations``; :attr:`SuggestAnswer.observations` says how many were used. No
        observed config is suggested again.

        Args:
            task: ``{name: value}`` meta-features, or the id of a task the service knows.
            space: Space name or id.
            k: How many configs.
            feature_version: The meta-features' version (from :meth:`describe` or
                :meth:`model_info`); required with meta-features.
            max_fit_seconds: Leave out configs predicted to fit slower than this (the
                prediction times the fit-time model's error margin, `fit_time.margin`).
            exclude: Configs already tried.
            train_rows: Rows the configs will be trained on (default: the table's rows).
            observations: Configs evaluated on the task with their scores (higher is
                better), as :class:`Observation` or ``(config, score)`` pairs.

        Raises:
            WarmstartRpcError: The server refused the request.
        """
        request = SuggestRequest(
            space=space,
            k=k,
            features=None if isinstance(task, str) else dict(task),
            feature_version=feature_version,
            task_id=task if isinstance(task, str) else None,
            max_fit_seconds=max_fit_seconds,
            exclude=tuple(exclude),
            train_rows=train_rows,
            observations=tuple(
                o if isinstance(o, Observation) else Observation(o[0], o[1]) for o in observations
            ),
        )
        message = self._call(
            self._stub.SuggestConfigs, lambda: convert.suggest_request_to_proto(request)
        )
        return convert.suggest_answer_from_proto(message)

    def report(self, results: Sequence[ReportedResult]) -> ReportSummary:
        """Report results of tasks the service knows; all are stored or none.

        Re-sending an id with the same payload is a no-op (``already``); a new id whose
        evaluation is stored already is not stored and is listed
        (:attr:`ReportSummary.duplicate_ids`).

        Raises:
            AlreadyExistsRpcError: An id was reported before with another payload.
            WarmstartRpcError: The server refused the batch (nothing was stored).
        """
        message = convert.report_request_to_proto(results)
        return convert.report_summary_from_proto(
            self._call(self._stub.ReportResults, lambda: message)
        )

    def describe(
        self,
        X: Any,
        y: Any,
        task_type: TaskType | str | None = None,
        *,
        name: str = "",
        probe_space: str = "",
    ) -> TaskDescription:
        """Compute a dataset's meta-features on the server (streamed as Arrow IPC in chunks).

        With a write token the server also stores the task (under ``name``) and the
        answer carries its ``task_id``; without one ``task_id`` is empty. With
        ``probe_space``, the server also runs the probes of the model serving that space
        (a few seconds) and adds their scores to the features (``probe:<config hash>``).

        Args:
            X: Features: a pandas DataFrame or a 2-D array.
            y: Target, one value per row.
            task_type: ``"binary"``, ``"multiclass"``, ``"regression"``; ``None``: inferred.
            name: The task's name if stored (empty: ``client/<task_id>``).
            probe_space: A space whose model's probes to run (empty: none).

        Raises:
            WarmstartRpcError: The server refused the data, or serves no model of
                ``probe_space``.
        """
        upload = DescribeUpload(
            TableFormat.ARROW_IPC,
            _TARGET_COLUMN,
            TaskType(task_type) if task_type else None,
            _to_ipc(X, y),
            name,
            probe_space,
        )
        chunks = convert.upload_to_chunks(upload, self.chunk_bytes)
        # Declared, the upload reserves its own size of the server's upload budget.
        size = ((UPLOAD_BYTES_HEADER, str(len(upload.data))),) if len(upload.data) else ()
        message = self._call(self._stub.DescribeTask, lambda: iter(chunks), size)
        return convert.description_from_proto(message)

    def register_task(
        self,
        features: Mapping[str, float],
        *,
        feature_version: str,
        task_type: TaskType | str,
        n_rows: int,
        n_features: int,
        name: str = "",
    ) -> RegisteredTask:
        """Store a task whose meta-features were computed here (needs a write token).

        The id is derived from the content: registering the same task again returns it
        with ``created`` false (and its first name).

        Args:
            features: ``{name: value}`` meta-features (left out or NaN: undefined).
            feature_version: Their version (a served model's, see :meth:`model_info`).
            task_type: ``"binary"``, ``"multiclass"`` or ``"regression"``.
            n_rows: The table's rows.
            n_features: Its feature columns (the target left out).
            name: A name to list it by (empty: ``client/<task_id>``).

        Raises:
            WarmstartRpcError: The server refused the task.
        """
        registration = TaskRegistration(
            name, TaskType(task_type), n_rows, n_features, feature_version, dict(features)
        )
        message = self._call(
            self._stub.RegisterTask, lambda: task_wire.registration_to_proto(registration)
        )
        return task_wire.registered_from_proto(message)

    def list_tasks(
        self, *, name_prefix: str = "", page_size: int = 0, page_token: str = ""
    ) -> TaskListing:
        """One page of the tasks the service knows, by name then id.

        Args:
            name_prefix: Only tasks whose name starts with this (case-sensitive).
            page_size: Tasks on the page, 1 to 1000 (0: the server's default, 100).
            page_token: The previous page's ``next_page_token`` (empty: the first page).
        """
        request = pb.ListTasksRequest(
            page_size=page_size, page_token=page_token, name_prefix=name_prefix
        )
        return task_wire.task_listing_from_proto(self._call(self._stub.ListTasks, lambda: request))

    def iter_tasks(self, *, name_prefix: str = "", page_size: int = 0) -> Iterator[Task]:
        """Every task the service knows (whose name starts with ``name_prefix``), page by page."""
        token = ""
        while True:
            page = self.list_tasks(name_prefix=name_prefix, page_size=page_size, page_token=token)
            yield from page.tasks
            token = page.next_page_token
            if not token:
                return

    def get_task(self, task_id: str) -> TaskDetail:
        """A task with its stored meta-features and how many results it has per space."""
        message = self._call(self._stub.GetTask, lambda: pb.GetTaskRequest(task_id=task_id))
        return task_wire.task_detail_from_proto(message)

    def spaces(self) -> list[SpaceInfo]:
        """Every search space the service knows."""
        message = self._call(self._stub.ListSearchSpaces, pb.ListSearchSpacesRequest)
        return [convert.space_from_proto(s) for s in message.spaces]

    def space(self, name: str) -> SpaceInfo:
        """One search space by name or id."""
        message = self._call(
            self._stub.GetSearchSpace, lambda: pb.GetSearchSpaceRequest(space=name)
        )
        return convert.space_from_proto(message)

    def model_info(self, space: str = "") -> ModelSummary:
        """What the served model (of ``space``, or every served one) is."""
        message = self._call(self._stub.GetModelInfo, lambda: pb.GetModelInfoRequest(space=space))
        return convert.model_summary_from_proto(message)

    def reload_model(self, path: str = "") -> ReloadOutcome:
        """Load bundles (from ``path`` on the server, else its configured location); admin only."""
        message = self._call(self._admin.ReloadModel, lambda: pb.ReloadModelRequest(path=path))
        return convert.reload_from_proto(message)
