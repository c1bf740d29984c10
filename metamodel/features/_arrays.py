"""Turn ``(X, y, task type)`` into the arrays every feature group reads.

Validation happens here, once: what is malformed raises
:class:`~warmstart.metamodel.errors.InvalidRequestError`; what is merely odd (NaN, inf,
constant or empty columns, one class, a handful of rows) passes through for the
groups to describe, as NaN where a feature is undefined.

Counts and missing values are taken over the whole table; everything else reads
a seeded sample of rows (stratified by class) and columns, which is what bounds
the cost: at most :data:`COLUMN_CAP` columns, and at most ``row_cap`` rows or
fewer for wide tables, so that the sample holds about :data:`CELL_BUDGET` cells
(but at least :data:`MIN_SAMPLE_ROWS` rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import TaskType

__all__ = [
    "CELL_BUDGET",
    "COLUMN_CAP",
    "MIN_SAMPLE_ROWS",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "TaskArrays",
    "coerce_task_type",
    "group_rng",
    "prepare",
    "random_sample",
    "stratified_sample",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

COLUMN_CAP = 500
"""The sample holds at most this many columns, chosen at random (seeded)."""
CELL_BUDGET = 500_000
"""Wide tables get fewer sampled rows, so that the sample holds about this many cells."""
MIN_SAMPLE_ROWS = 1000
"""The cell budget never cuts the sample below this many rows (``row_cap`` may)."""

_NUMERIC_OBJECT_KINDS = frozenset({"floating", "integer", "mixed-integer-float", "decimal"})


@dataclass(frozen=True)
class TaskArrays:
    """A task's data, validated, encoded and sampled for the feature groups.

    Attributes:
        task_type: Binary, multiclass or regression.
        n_rows: Rows of ``X``.
        n_columns: Feature columns of ``X``.
        categorical: Per column of ``X``: categorical (object, string,
            category or boolean dtype) rather than numeric.
        missing_per_column: Per column of ``X``: how many cells are missing.
        rows_with_missing: How many rows have at least one missing cell.
        target: The whole target without its missing values: class codes
            ``0..n_classes-1`` for classification, floats for regression.
        n_classes: Classes present in the target; 0 for regression.
        values: The sample of rows by columns, categorical columns as integer
            codes, missing and infinite values as NaN.
        sample_categorical: ``categorical`` for the sampled columns.
        sample_target: The target of the sampled rows (codes or floats). The
            sample holds only rows with a target unless no row has one; then
            it is all -1 (classification) or NaN (regression).
        seed: Seed of every random choice made from here on.
    """

    task_type: TaskType
    n_rows: int
    n_columns: int
    categorical: BoolArray
    missing_per_column: IntArray
    rows_with_missing: int
    target: npt.NDArray[Any]
    n_classes: int
    values: FloatArray
    sample_categorical: BoolArray
    sample_target: npt.NDArray[Any]
    seed: int

    @property
    def is_classification(self) -> bool:
        """Whether the target is a class label."""
        return self.task_type is not TaskType.REGRESSION


def coerce_task_type(task_type: TaskType | str) -> TaskType:
    """Return ``task_type`` as a :class:`TaskType`.

    Raises:
        InvalidRequestError: If it names no task type.
    """
    if isinstance(task_type, TaskType):
        return task_type
    try:
        return TaskType(str(task_type))
    except ValueError:
        allowed = ", ".join(repr(t.value) for t in TaskType)
        raise InvalidRequestError(
            f"task_type must be one of {allowed}, got {task_type!r}"
        ) from None


def group_rng(seed: int, group: str) -> np.random.Generator:
    """A generator for one feature group, independent of the other groups' draws."""
    return np.random.default_rng([seed, *group.encode()])


def stratified_sample(labels: IntArray, size: int, rng: np.random.Generator) -> IntArray:
    """Positions of about ``size`` rows, each class in proportion and at least once.

    Args:
        labels: Class codes ``0..C-1``, one per row.
        size: How many rows to keep.
        rng: Source of randomness.

    Returns:
        Sorted positions; all of them when there are ``size`` rows or fewer.
    """
    n = len(labels)
    if n <= size:
        return np.arange(n, dtype=np.intp)
    counts = np.bincount(labels)
    if np.count_nonzero(counts) > size // 2:
        # Too many classes to keep one of each: a plain sample is as good as it gets.
        return random_sample(n, size, rng)
    keep_per_class = np.minimum(counts, np.maximum(1, np.round(size * counts / n))).astype(np.intp)
    perm = rng.permutation(n)
    by_class = perm[np.argsort(labels[perm], kind="stable")]
    sorted_labels = labels[by_class]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[sorted_labels]
    return np.sort(by_class[rank < keep_per_class[sorted_labels]]).astype(np.intp)


def random_sample(n: int, size: int, rng: np.random.Generator) -> IntArray:
    """Sorted positions of ``size`` of ``n`` rows drawn without replacement (all when fewer)."""
    if n <= size:
        return np.arange(n, dtype=np.intp)
    return np.sort(rng.choice(n, size, replace=False)).astype(np.intp)


def _as_frame(X: Any) -> tuple[Any, bool]:
    """Return ``(frame or float array, is_frame)``; raise for what is not a 2-D table."""
    if isinstance(X, pd.DataFrame):
        if len(X.columns) and all(isinstance(t, np.dtype) and t.kind in "iuf" for t in X.dtypes):
            # Plain numeric columns: one array (no copy for a single float block) is far
            # cheaper to sample and to count missing values in than the frame.
            return X.to_numpy(dtype=np.float64), False
        return X, True
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise InvalidRequestError(
                f"X must be 2-D (rows x features), got an array with shape {X.shape}"
            )
        if X.dtype.kind in "biuf":
            return X, False
        if X.dtype.kind in "OUS":
            return pd.DataFrame(X), True
        raise InvalidRequestError(
            f"X must hold numbers, booleans or strings, got a numpy array of dtype {X.dtype}"
        )
    raise InvalidRequestError(
        f"X must be a pandas DataFrame or a 2-D numpy array, got {type(X).__name__}"
    )


def _target_array(y: Any, n_rows: int) -> Any:
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise InvalidRequestError(
                f"y must be one column (a Series or 1-D array), got a DataFrame with "
                f"{y.shape[1]} columns"
            )
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series):
        array = np.asarray(y)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise InvalidRequestError(f"y must be 1-D (one value per row), got shape {array.shape}")
        y = pd.Series(array)
    if len(y) != n_rows:
        raise InvalidRequestError(
            f"X and y must have the same number of rows, got {n_rows} and {len(y)}"
        )
    return y.reset_index(drop=True)


def _encode_target(y: Any, classification: bool) -> tuple[npt.NDArray[Any], BoolArray, int]:
    """Return ``(per-row target, valid mask, n_classes)``."""
    if classification:
        codes, uniques = pd.factorize(y, use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.intp)
        return codes, codes >= 0, len(uniques)
    try:
        values = np.asarray(y.to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)
    except (TypeError, ValueError):
        example = next((v for v in y if not _is_number(v)), None)
        raise InvalidRequestError(
            f"a regression target must be numeric, got a value {example!r}; "
            "use task_type 'binary' or 'multiclass' for class labels"
        ) from None
    return values, np.isfinite(values), 0


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.number)) or value is None


def _categorical_columns(frame: Any) -> BoolArray:
    """Per column: categorical (object, string, category, boolean) rather than numeric."""
    out = np.ones(frame.shape[1], dtype=np.bool_)
    for j, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
            continue
        if pd.api.types.is_numeric_dtype(dtype):
            out[j] = False
        elif pd.api.types.is_object_dtype(dtype):
            # Object columns of Python numbers are numbers that lost their dtype.
            kind = pd.api.types.infer_dtype(frame.iloc[:, j], skipna=True)
            out[j] = kind not in _NUMERIC_OBJECT_KINDS
    return out


def _encode_frame(frame: Any, categorical: BoolArray) -> FloatArray:
    """Encode a frame's columns as floats: categorical columns as codes, missing as NaN."""
    out = np.empty(frame.shape, dtype=np.float64)
    numeric_idx = np.flatnonzero(~categorical)
    dtypes = frame.dtypes
    typed = np.array(
        [pd.api.types.is_numeric_dtype(dtypes.iloc[j]) for j in numeric_idx], dtype=np.bool_
    )
    if typed.any():
        block = frame.iloc[:, numeric_idx[typed]]
        out[:, numeric_idx[typed]] = block.to_numpy(dtype=np.float64, na_value=np.nan)
    for j in numeric_idx[~typed]:
        column = pd.to_numeric(frame.iloc[:, j], errors="coerce")
        out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    for j in np.flatnonzero(categorical):
        codes, _ = pd.factorize(frame.iloc[:, j], use_na_sentinel=True)
        column = np.asarray(codes, dtype=np.float64)
        column[column < 0] = np.nan
        out[:, j] = column
    return out


def prepare(X: Any, y: Any, task_type: TaskType | str, *, seed: int, row_cap: int) -> TaskArrays:
    """Validate and encode a task's data and draw the sample the statistics read.

    Rows whose target is missing (or not finite, for regression) are left out of
    the target and of the sample; they still count in ``n_rows`` and in the
    missing-value counts.

    Args:
        X: Features: a pandas DataFrame or a 2-D numpy array.
        y: Target: a Series, 1-D array or sequence, one value per row.
        task_type: A :class:`TaskType` or its string value.
        seed: Seed of the row and column samples.
        row_cap: Most rows in the sample (fewer for wide tables).

    Returns:
        The arrays the feature groups read.

    Raises:
        InvalidRequestError: If ``X`` is not a non-empty 2-D table, ``y`` does
            not match its rows, ``task_type`` is unknown, or a regression target
            is not numeric.
    """
    kind = coerce_task_type(task_type)
    table, is_frame = _as_frame(X)
    n_rows, n_columns = table.shape
    if n_rows == 0 or n_columns == 0:
        raise InvalidRequestError(
            f"X must have at least one row and one feature column, got shape {table.shape}"
        )
    target_series = _target_array(y, n_rows)
    classification = kind is not TaskType.REGRESSION
    per_row, valid, n_classes = _encode_target(target_series, classification)

    rng = group_rng(seed, "sample")
    columns = random_sample(n_columns, COLUMN_CAP, rng)
    sample_rows = min(row_cap, max(MIN_SAMPLE_ROWS, CELL_BUDGET // len(columns)))
    valid_rows = np.flatnonzero(valid) if valid.any() else np.arange(n_rows, dtype=np.intp)
    if classification and valid.any():
        picked = stratified_sample(per_row[valid_rows], sample_rows, rng)
    else:
        picked = random_sample(len(valid_rows), sample_rows, rng)
    rows = valid_rows[picked]

    if is_frame:
        categorical = _categorical_columns(table)
        missing = table.isna().to_numpy()
        sub = table.iloc[rows, columns] if len(rows) < n_rows or len(columns) < n_columns else table
        values = _encode_frame(sub, categorical[columns])
    else:
        categorical = np.full(n_columns, table.dtype.kind == "b", dtype=np.bool_)
        missing = np.isnan(table) if table.dtype.kind == "f" else np.zeros(table.shape, np.bool_)
        values = np.asarray(table[np.ix_(rows, columns)], dtype=np.float64)
    values[~np.isfinite(values)] = np.nan

    target = per_row[valid]
    sample_target = per_row[rows]
    if not classification:
        sample_target = np.where(np.isfinite(sample_target), sample_target, np.nan)
    return TaskArrays(
        task_type=kind,
        n_rows=int(n_rows),
        n_columns=int(n_columns),
        categorical=categorical,
        missing_per_column=missing.sum(axis=0).astype(np.intp),
        rows_with_missing=int(missing.any(axis=1).sum()),
        target=target,
        n_classes=n_classes,
        values=values,
        sample_categorical=categorical[columns],
        sample_target=sample_target,
        seed=seed,
    )
