"""DescribeTask's data: chunks joined under a byte limit, then read into ``(X, y, task type)``.

The limit is enforced as chunks arrive, so an oversized upload is refused as
soon as it passes the limit, not after it has all been buffered.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from metamodel.errors import InvalidRequestError
from metamodel.types import TaskType
from service.server._errors import ResourceExhaustedError
from service.server.api import DescribeUpload, TableFormat

__all__ = ["ChunkCollector", "infer_task_type", "read_upload"]

MAX_CLASSES_INFERRED = 20
"""An integer target with at most this many distinct values is taken as classes."""


@dataclass
class ChunkCollector:
    """Joins the chunks of one DescribeTask stream, refusing it once it passes ``limit`` bytes."""

    limit: int
    format: TableFormat | None = None
    target: str = ""
    task_type: TaskType | None = None
    size: int = 0
    chunks: int = 0
    _parts: list[bytes] = field(default_factory=list)

    def add(
        self, table_format: TableFormat | None, target: str, task_type: TaskType | None, data: bytes
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
        self.chunks += 1
        self.size += len(data)
        if self.size > self.limit:
            raise ResourceExhaustedError(
                f"the dataset passed {self.limit} bytes at chunk {self.chunks - 1}; this server "
                f"describes datasets of at most {self.limit} bytes: send a row sample"
            )
        self._parts.append(data)

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
        return DescribeUpload(self.format, self.target, self.task_type, b"".join(self._parts))


def _read_frame(upload: DescribeUpload) -> pd.DataFrame:
    if upload.format is TableFormat.CSV:
        try:
            return pd.read_csv(io.BytesIO(upload.data), encoding="utf-8", engine="c")
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidRequestError(
                f"the data is not UTF-8 CSV with a header row: {detail}"
            ) from None
    try:
        with pa.ipc.open_stream(pa.py_buffer(upload.data)) as reader:
            table = reader.read_all()
        return table.to_pandas()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise InvalidRequestError(f"the data is not an Arrow IPC stream: {exc}") from None


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
        raise InvalidRequestError(f"the target column {y.name!r} has no values")
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
        shown = ", ".join(map(repr, columns[:10])) + (" ..." if len(columns) > 10 else "")
        raise InvalidRequestError(
            f"target column {upload.target!r} is not in the data; its columns are: {shown}"
        )
    frame.columns = pd.Index(columns)
    y = frame.pop(upload.target)
    if frame.shape[1] == 0:
        raise InvalidRequestError("the data has no feature columns besides the target")
    task_type = upload.task_type or infer_task_type(y)
    return frame, y, task_type
