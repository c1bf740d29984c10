"""DescribeTask's data: chunks joined under a byte limit, then read into ``(X, y, task type)``.

The limit is enforced as chunks arrive, so an oversized upload is refused as
soon as it passes the limit, not after it has all been buffered. An
:class:`UploadBudget` bounds the bytes of all uploads the server holds at once.
Each upload is admitted or refused before any of its data is read: it reserves its
declared size (the ``warmstart-upload-bytes`` request header) or, undeclared, the
largest dataset the server takes, and is refused with RESOURCE_EXHAUSTED at once if
the budget cannot hold that. Once its stream ends the reservation shrinks to the bytes
it sent, which count until its meta-features are computed (the time the server's
memory holds several copies of them).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from warmstart.metamodel.errors import InvalidRequestError, shown
from warmstart.metamodel.types import TaskType
from warmstart.service.server._errors import ResourceExhaustedError
from warmstart.service.wire.api import DescribeUpload, TableFormat
from warmstart.service.wire.limits import UPLOAD_BYTES_HEADER

__all__ = [
    "UPLOAD_BYTES_HEADER",
    "ChunkCollector",
    "UploadBudget",
    "UploadPace",
    "declared_size",
    "infer_task_type",
    "read_upload",
    "release_free_memory",
]

"""Request header in which a DescribeTask client may declare its upload's size in bytes."""

MAX_CLASSES_INFERRED = 20
"""An integer target with at most this many distinct values is taken as classes."""


_MIB = 1024 * 1024
_LIBC = ctypes.util.find_library("c")
_malloc_trim = getattr(ctypes.CDLL(_LIBC), "malloc_trim", None) if _LIBC else None


def release_free_memory() -> None:
    """Hand the memory C's allocator holds free back to the system (glibc's ``malloc_trim``;
    elsewhere nothing).

    Reading and describing an upload allocates and frees hundreds of MiB through Arrow's
    allocator and C's; both keep freed memory for reuse, which left a server about
    670 MiB above its idle size after a burst of 256 MiB uploads (70 MiB with this
    called after each upload). It takes a few ms.
    """
    pa.default_memory_pool().release_unused()  # Arrow's own allocator, for the tables
    if _malloc_trim is not None:
        _malloc_trim(0)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / _MIB:.1f} MiB" if n_bytes >= _MIB else f"{n_bytes / 1024:.1f} KiB"


class UploadBudget:
    """Bytes of DescribeTask data held at once over all uploads, and their limit.

    Used from the event loop only (chunks are taken and released there), so it needs
    no lock.

    Args:
        limit: The most bytes held at once.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the upload budget must be >= 1 byte, got {limit}")
        self.limit = limit
        self.used = 0

    def take(self, size: int, why: str = "") -> None:
        """Count ``size`` more bytes held.

        Args:
            size: The bytes.
            why: What they are, for the message (``"its declared size"``).

        Raises:
            ResourceExhaustedError: They would pass the limit.
        """
        if self.used + size > self.limit:
            because = f" ({why})" if why else ""
            raise ResourceExhaustedError(
                f"the server is describing other datasets: {_size(self.used)} of its "
                f"{_size(self.limit)} DescribeTask budget (all uploads at once) is in use "
                f"and this upload needs {_size(size)}{because}; retry with backoff, or send "
                f"a row sample (declaring a smaller size in the {UPLOAD_BYTES_HEADER} header)"
            )
        self.used += size

    def give(self, size: int) -> None:
        """Count ``size`` bytes as no longer held."""
        self.used = max(0, self.used - size)


class UploadPace:
    """Paces the reading of DescribeTask data to at most ``rate`` bytes a second over all
    uploads, so that HTTP/2 flow control slows their senders.

    gRPC reads a stream's next message from the connection only when the servicer asks
    for it; a servicer that waits before asking leaves the rest of the upload unread in
    the client, whose writes then wait for window updates. Without pacing, uploads over
    a fast link (loopback, a LAN) go as fast as the CPUs can carry them through both
    processes' gRPC stacks and take the CPU that health checks and small calls need.

    Each chunk read books the next ``len / rate`` seconds of a clock shared by all
    uploads (first come, first served: at most one chunk of each upload waits at a
    time); an idle clock lends up to ``burst`` seconds, so a small upload on a quiet
    server is read at once. Used from the event loop only.

    Args:
        rate: Bytes a second over all uploads; ``None`` or 0: no pacing.
        burst: Seconds of reading an idle server lends at once.
    """

    def __init__(self, rate: float | None, burst: float = 0.25) -> None:
        if rate is not None and not rate >= 0:
            raise ValueError(f"the upload rate must be >= 0 bytes/s, got {rate}")
        self.rate = rate or None
        self.burst = burst
        self._free_at = -math.inf  # when the data booked so far has been read (loop clock)

    def book(self, size: int, now: float) -> float:
        """Book the reading of ``size`` bytes at ``now``; return the seconds to wait first."""
        if self.rate is None or size <= 0:
            return 0.0
        start = max(self._free_at, now - self.burst)
        self._free_at = start + size / self.rate
        return max(0.0, self._free_at - now)

    async def pace(self, size: int) -> None:
        """Wait until ``size`` more bytes may be read."""
        wait = self.book(size, asyncio.get_running_loop().time())
        if wait > 0:
            await asyncio.sleep(wait)


def declared_size(value: str | bytes | None, limit: int) -> int | None:
    """An upload's size from its ``warmstart-upload-bytes`` header; ``None`` if not given.

    Raises:
        InvalidRequestError: Not a whole number of bytes >= 1.
        ResourceExhaustedError: More than ``limit`` bytes.
    """
    if value is None:
        return None
    raw = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise InvalidRequestError(
            f"the {UPLOAD_BYTES_HEADER} header must be the upload's size, a whole number of "
            f"bytes >= 1, got {shown(raw)}"
        )
    size = int(raw)
    if size > limit:
        raise ResourceExhaustedError(
            f"the upload declares {size} bytes; this server describes datasets of at most "
            f"{limit} bytes: send a row sample"
        )
    return size


@dataclass
class ChunkCollector:
    """Joins the chunks of one DescribeTask stream, refusing it once it passes ``limit`` bytes
    (or its ``declared`` size); :meth:`admit` reserves its room in the ``budget`` of all
    uploads at once, :meth:`trim` shrinks that to what it sent, :meth:`release` gives it
    back."""

    limit: int
    budget: UploadBudget | None = None
    declared: int | None = None
    format: TableFormat | None = None
    target: str = ""
    task_type: TaskType | None = None
    size: int = 0
    chunks: int = 0
    reserved: int = 0
    _admitted: bool = False
    _parts: list[bytes | memoryview] = field(default_factory=list)

    def admit(self) -> None:
        """Reserve the upload's room in the budget: its declared size, else ``limit``.

        Called before the first chunk is read (else by the first :meth:`add`), so that an
        upload the budget cannot hold is refused before any of its data is read, not
        part-way. Idempotent.

        Raises:
            ResourceExhaustedError: The budget cannot hold it now.
        """
        if self._admitted:
            return
        if self.budget is not None:
            need = self.limit if self.declared is None else self.declared
            why = (
                f"the largest dataset this server takes; declare the upload's size in the "
                f"{UPLOAD_BYTES_HEADER} header to reserve less"
                if self.declared is None
                else "its declared size"
            )
            self.budget.take(need, why)
            self.reserved = need
        self._admitted = True

    def trim(self) -> None:
        """Once the stream has ended: give back the reserved room it did not use."""
        if self.budget is not None and self.reserved > self.size:
            self.budget.give(self.reserved - self.size)
            self.reserved = self.size

    def add(
        self,
        table_format: TableFormat | None,
        target: str,
        task_type: TaskType | None,
        data: bytes | memoryview,
    ) -> None:
        """Take one chunk; the first must name the format and the target.

        Raises:
            InvalidRequestError: The first chunk has no format or target, or a
                later one contradicts it.
            ResourceExhaustedError: The stream has passed the byte limit.
        """
        if self.chunks == 0:
            if table_format is None:
                raise InvalidRequestError(
                    "the first chunk must set format: FORMAT_ARROW_IPC or FORMAT_CSV"
                )
            if not target:
                raise InvalidRequestError("the first chunk must name the target column")
            self.format, self.target, self.task_type = table_format, target, task_type
        elif (
            (table_format is not None and table_format != self.format)
            or (target and target != self.target)
            or (task_type is not None and task_type != self.task_type)
        ):
            raise InvalidRequestError(
                f"chunk {self.chunks} changes the format, target or task type set by the first "
                "chunk; later chunks carry data only"
            )
        self.admit()
        self.chunks += 1
        if self.size + len(data) > self.limit:
            raise ResourceExhaustedError(
                f"the dataset passed {self.limit} bytes at chunk {self.chunks - 1}; this server "
                f"describes datasets of at most {self.limit} bytes: send a row sample"
            )
        if self.declared is not None and self.size + len(data) > self.declared:
            raise InvalidRequestError(
                f"the dataset passed the {self.declared} bytes its {UPLOAD_BYTES_HEADER} "
                f"header declared at chunk {self.chunks - 1}"
            )
        self.size += len(data)
        self._parts.append(data)

    def release(self) -> None:
        """Give the bytes taken back to the budget (call once the upload is done with)."""
        if self.budget is not None:
            self.budget.give(self.reserved)
            self.budget = None
        self.reserved = 0
        self._parts = []

    def finish(self) -> DescribeUpload:
        """Return the whole upload.

        Raises:
            InvalidRequestError: The stream was empty or carried no data.
        """
        if self.chunks == 0 or self.format is None:
            raise InvalidRequestError(
                "the stream is empty: send at least one chunk with format, target and data"
            )
        if self.size == 0:
            raise InvalidRequestError("the stream carried no data bytes")
        parts, self._parts = self._parts, []
        if len(parts) == 1:
            return DescribeUpload(self.format, self.target, self.task_type, parts[0])
        # Joined by numpy, which lets go of the GIL while it copies: bytes.join would hold
        # it (about 100 ms for 256 MiB), and appending on the event loop as chunks come
        # costs the loop as much in page faults. The parts go as soon as they are joined.
        joined = np.concatenate([np.frombuffer(p, dtype=np.uint8) for p in parts])
        del parts
        return DescribeUpload(self.format, self.target, self.task_type, joined.data)


def _read_frame(upload: DescribeUpload) -> pd.DataFrame:
    if upload.format is TableFormat.CSV:
        try:
            # Read in place (io.BytesIO would copy a memoryview).
            return pd.read_csv(pa.BufferReader(upload.data), encoding="utf-8", engine="c")
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidRequestError(
                f"the data is not UTF-8 CSV with a header row: {detail}"
            ) from None
    try:
        with pa.ipc.open_stream(pa.py_buffer(upload.data)) as reader:
            table = reader.read_all()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise InvalidRequestError(f"the data is not an Arrow IPC stream: {exc}") from None
    _refuse_nested(table.schema)
    try:
        return table.to_pandas()
    except (pa.ArrowException, ValueError, OverflowError) as exc:
        raise InvalidRequestError(f"the Arrow data cannot be read as a table: {exc}") from None


def _nested(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _nested(kind.value_type)
    return bool(
        pa.types.is_nested(kind) or pa.types.is_union(kind) or isinstance(kind, pa.ExtensionType)
    )


def _refuse_nested(schema: pa.Schema) -> None:
    """Refuse columns whose cells are not single values: lists, structs, maps, unions.

    Raises:
        InvalidRequestError: Naming the first such columns and their types.
    """
    nested = [f for f in schema if _nested(f.type)]
    if nested:
        shown_columns = ", ".join(f"{shown(f.name)} ({f.type})" for f in nested[:5])
        more = f" and {len(nested) - 5} more" if len(nested) > 5 else ""
        raise InvalidRequestError(
            f"column(s) {shown_columns}{more} hold lists, structs, maps or unions; "
            "meta-features are computed from columns of single values (numbers, strings, "
            "booleans, dates): flatten or drop them"
        )


def infer_task_type(y: pd.Series) -> TaskType:
    """Guess the task type from the target when the client did not say.

    Text, boolean or categorical targets are classes; numbers are classes when
    they are all integers with at most :data:`MAX_CLASSES_INFERRED` distinct
    values, else regression. Two classes (or one) make a binary task.

    Raises:
        InvalidRequestError: The target has no values.
    """
    values = y.dropna()
    if values.empty:
        raise InvalidRequestError(f"the target column {shown(str(y.name))} has no values")
    distinct = int(values.nunique())
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        as_float = values.to_numpy(dtype=float, na_value=np.nan)
        integral = bool(np.all(np.isfinite(as_float)) and np.all(as_float == np.round(as_float)))
        if not integral or distinct > MAX_CLASSES_INFERRED:
            return TaskType.REGRESSION
    return TaskType.BINARY if distinct <= 2 else TaskType.MULTICLASS


def read_upload(upload: DescribeUpload) -> tuple[pd.DataFrame, pd.Series, TaskType]:
    """Read an upload into features, target and task type.

    Raises:
        InvalidRequestError: Malformed data, no such target column, no feature columns.
    """
    frame = _read_frame(upload)
    columns = [str(c) for c in frame.columns]
    if upload.target not in columns:
        listed = ", ".join(map(shown, columns[:10])) + (" ..." if len(columns) > 10 else "")
        raise InvalidRequestError(
            f"target column {shown(upload.target)} is not in the data; its columns are: {listed}"
        )
    frame.columns = pd.Index(columns)
    y = frame.pop(upload.target)
    if frame.shape[1] == 0:
        raise InvalidRequestError("the data has no feature columns besides the target")
    task_type = upload.task_type or infer_task_type(y)
    return frame, y, task_type
