"""Turn a table into a task: split the target, check it, infer its type, hash it.

The data are kept as the source had them (no encoding, no imputing: that is
the learner pipeline's job). The one change is that rows without a target are
dropped, since nothing can be learned or scored from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from warmstart.benchmarks.tasks._base import TaskData
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import Task, TaskType

__all__ = [
    "build_task_data",
    "compute_task_id",
    "infer_task_type",
    "split_target",
]

# A float target with more distinct values than this is a regression target.
MAX_FLOAT_CLASSES = 10
# An integer target needs this many distinct values to count as regression:
# no PMLB classification task has more than 26 classes.
MAX_INT_CLASSES = 50

_ID_VERSION = b"warmstart-task-id-v1"
_TYPE_WORDS = ("classification", "regression", "binary", "multiclass")


def split_target(frame: Any, target: str, where: str) -> tuple[Any, Any]:
    """Split a table into its feature columns and its target column.

    Args:
        frame: The table (``pandas.DataFrame``).
        target: Name of the target column.
        where: What the table is (a file path, a dataset name), for messages.

    Returns:
        ``(X, y)``: every column but the target, and the target.

    Raises:
        InvalidRequestError: The table has no column named ``target``.
    """
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        shown = ", ".join(repr(c) for c in columns[:10])
        more = f", ... ({len(columns)} in all)" if len(columns) > 10 else ""
        raise InvalidRequestError(
            f"{where}: no target column {target!r}; columns are {shown}{more}. "
            "Name the target column with target=COLUMN."
        )
    position = columns.index(target)
    return frame.drop(columns=frame.columns[position]), frame.iloc[:, position]


def infer_task_type(y: Any) -> TaskType:
    """Infer the task type from a target column.

    A float target with more than 10 distinct values, or an integer target with
    more than 50, is regression; anything else (strings, categories, booleans,
    few distinct numbers) is classification: binary with 2 classes, else
    multiclass.

    Args:
        y: The target (``pandas.Series``); missing values are ignored.

    Returns:
        The inferred task type.
    """
    values = y.dropna()
    n_unique = int(values.nunique())
    dtype = values.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if pd.api.types.is_float_dtype(dtype) and n_unique > MAX_FLOAT_CLASSES:
            return TaskType.REGRESSION
        if pd.api.types.is_integer_dtype(dtype) and n_unique > MAX_INT_CLASSES:
            return TaskType.REGRESSION
    return TaskType.BINARY if n_unique <= 2 else TaskType.MULTICLASS


def compute_task_id(X: Any, y: Any) -> str:
    """Return a task's stable id: 16 hex characters of a SHA-256 over its content.

    The hash covers column names, a canonical dtype kind per column, and
    ``pandas.util.hash_pandas_object`` of every value of ``X`` and ``y``; the
    index is ignored. The same table gives the same id on any machine and
    run, whether read from CSV, TSV, gzip or Parquet; one changed value,
    name or column order gives a different id.

    Args:
        X: Feature columns (``pandas.DataFrame``).
        y: Target (``pandas.Series``).

    Returns:
        The task id.
    """
    digest = hashlib.sha256(_ID_VERSION)
    for column, dtype in X.dtypes.items():
        digest.update(f"\x00x\x00{column}\x00{_dtype_kind(dtype)}".encode())
    digest.update(f"\x00y\x00{y.name}\x00{_dtype_kind(y.dtype)}\x00".encode())
    if X.shape[1] > 0:
        digest.update(_hash_values(X))
    digest.update(b"\x00")
    digest.update(_hash_values(y))
    return digest.hexdigest()[:16]


def build_task_data(
    X: Any,
    y: Any,
    *,
    name: str,
    source: str,
    family: str | None = None,
    task_type: TaskType | str | None = None,
    extra_stats: Mapping[str, float] | None = None,
) -> TaskData:
    """Check a dataset and wrap it as a task with its id, type and basic stats.

    Rows whose target is missing are dropped (and the index reset); nothing
    else in the data is changed.

    Args:
        X: Feature columns (``pandas.DataFrame``).
        y: Target (``pandas.Series``), same length as ``X``.
        name: The task's name for people, e.g. ``"pmlb/1027_ESL"``.
        source: The suite kind the task comes from.
        family: Group of near-duplicate tasks; defaults to the part of ``name``
            after the last ``/``.
        task_type: ``"classification"``, ``"regression"``, a :class:`TaskType`,
            or ``None`` to infer it from ``y`` (see :func:`infer_task_type`).
        extra_stats: Further statistics to record in ``Task.stats``.

    Returns:
        The task and its data.

    Raises:
        InvalidRequestError: No feature columns, fewer than two distinct target
            values, a non-numeric regression target, or an unknown task type.
    """
    if len(X) != len(y):
        raise InvalidRequestError(f"{name}: X has {len(X)} rows but y has {len(y)}")
    if X.shape[1] == 0:
        raise InvalidRequestError(f"{name}: no feature columns besides the target {y.name!r}")
    keep = y.notna().to_numpy()
    if not keep.all():
        X = X.loc[keep].reset_index(drop=True)
        y = y.loc[keep].reset_index(drop=True)
    else:
        X = X.reset_index(drop=True)
        y = y.reset_index(drop=True)
    n_distinct = int(y.nunique())
    if n_distinct < 2:
        raise InvalidRequestError(
            f"{name}: the target {y.name!r} needs at least 2 distinct values, "
            f"got {n_distinct} in {len(y)} rows with a target"
        )
    resolved = _resolve_task_type(task_type, y, name)
    is_regression = resolved is TaskType.REGRESSION
    stats = _basic_stats(X, y, is_regression)
    stats.update(extra_stats or {})
    task = Task(
        task_id=compute_task_id(X, y),
        name=name,
        task_type=resolved,
        source=source,
        n_rows=len(X),
        n_features=int(X.shape[1]),
        family=family if family else name.rsplit("/", 1)[-1],
        n_classes=None if is_regression else n_distinct,
        stats=stats,
    )
    return TaskData(task=task, X=X, y=y)


def _resolve_task_type(given: TaskType | str | None, y: Any, name: str) -> TaskType:
    n_distinct = int(y.nunique())
    if given is None or (isinstance(given, str) and given.strip() == ""):
        return infer_task_type(y)
    word = given.value if isinstance(given, TaskType) else str(given).strip().lower()
    if word not in _TYPE_WORDS:
        raise InvalidRequestError(
            f"{name}: task type must be one of {', '.join(_TYPE_WORDS)}, got {given!r}"
        )
    if word == "regression":
        if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
            raise InvalidRequestError(
                f"{name}: a regression target must be numeric, got dtype {y.dtype} "
                f"(values such as {list(y.unique()[:3])!r})"
            )
        return TaskType.REGRESSION
    if word == "binary" and n_distinct != 2:
        raise InvalidRequestError(f"{name}: a binary task needs 2 classes, got {n_distinct}")
    if word == "multiclass" and n_distinct < 3:
        raise InvalidRequestError(
            f"{name}: a multiclass task needs at least 3 classes, got {n_distinct}"
        )
    return TaskType.BINARY if n_distinct == 2 else TaskType.MULTICLASS


def _basic_stats(X: Any, y: Any, is_regression: bool) -> dict[str, float]:
    n_rows, n_cols = X.shape
    missing = X.isna().to_numpy()
    categorical = [not pd.api.types.is_numeric_dtype(dtype) for dtype in X.dtypes]
    stats = {
        "missing_fraction": float(missing.mean()) if missing.size else 0.0,
        "rows_with_missing_fraction": float(missing.any(axis=1).mean()) if n_rows else 0.0,
        "categorical_fraction": float(np.mean(categorical)) if n_cols else 0.0,
    }
    if is_regression:
        values = y.to_numpy(dtype=float)
        stats["target_mean"] = float(values.mean())
        stats["target_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    else:
        counts = y.value_counts().to_numpy()
        stats["minority_class_fraction"] = float(counts.min() / counts.sum())
        stats["majority_class_fraction"] = float(counts.max() / counts.sum())
        stats["min_class_count"] = float(counts.min())
    return stats


def _dtype_kind(dtype: Any) -> str:
    """Name a dtype by what it holds, so CSV and Parquet readings agree."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "text"  # object, str and category columns of labels hash alike
    return str(dtype)


def _hash_values(data: Any) -> bytes:
    hashes = pd.util.hash_pandas_object(data, index=False).to_numpy(dtype=np.uint64)
    return bytes(hashes.astype("<u8").tobytes())
