"""Task meta-features as Parquet: ship them with records so nobody has to recompute them.

Format version 1 (``warmstart_features_format = "1"`` in the file's metadata),
one row per task and feature-set version:

============  ===============  ========  =================================================
column        Arrow type       required  meaning
============  ===============  ========  =================================================
task_id       string           yes       the task's id, as in the records format
version       string           yes       the feature-set version, e.g. ``mf-1``
names         list<string>     yes       the feature names, in order, unique
values        list<double>     yes       one value per name; null for a missing value
                                         (NaN and infinities are written as null)
task_name     string           no        the task's name; checked against the stored task
============  ===============  ========  =================================================

Rows are unique on (task_id, version), and every row of one version has the
same names in the same order. Import validates every row first and stores
nothing if any is invalid; each bad row is reported with its number (from 0)
and reason. A row's task must already be stored (import the records first),
unless ``skip_unknown_tasks`` is set, which leaves such rows out. Features
already stored for a task and version are kept, never overwritten.

A version's names are fixed: a file whose names for a version differ from those
stored under it (or, for ``mf-1``, from the names warmstart computes) is refused
whole, naming the missing and extra names; another feature set takes another
version name.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.store._parquet import RowError, check_columns, open_table
from warmstart.metamodel.store._store import RecordStore
from warmstart.metamodel.types import TaskFeatures

__all__ = [
    "FEATURES_COLUMNS",
    "FEATURES_FORMAT",
    "FEATURES_REQUIRED_COLUMNS",
    "FeatureRow",
    "FeaturesImportReport",
    "export_task_features",
    "import_task_features",
    "read_task_features",
    "write_task_features",
]

FEATURES_FORMAT = "1"
"""The format version written to, and accepted from, a file's metadata."""

_FORMAT_KEY = b"warmstart_features_format"

FEATURES_COLUMNS: dict[str, pa.DataType] = {
    "task_id": pa.string(),
    "version": pa.string(),
    "names": pa.list_(pa.string()),
    "values": pa.list_(pa.float64()),
    "task_name": pa.string(),
}
"""Every column of the features format with its Arrow type."""

FEATURES_REQUIRED_COLUMNS = ("task_id", "version", "names", "values")
"""Columns a features file must have."""


@dataclass(frozen=True)
class FeatureRow:
    """One valid row of a features file: its number (from 0), features and optional task name."""

    row: int
    features: TaskFeatures
    task_name: str | None = None


@dataclass
class FeaturesImportReport:
    """What a features import read, refused, left out and stored.

    Attributes:
        rows: Rows in the file.
        invalid: The refused rows; if any, nothing was stored.
        new: Task features stored by this import.
        already: Rows whose task and version already had features (kept as they were).
        skipped: Rows left out because their task is not stored (``skip_unknown_tasks``).
        stored: Whether the import wrote (False when any row is invalid).
        new_by_version: The rows each feature-set version had to store: those this import
            wrote, and any another writer stored meanwhile (``new`` counts only the first).
    """

    rows: int = 0
    invalid: list[RowError] = field(default_factory=list)
    new: int = 0
    already: int = 0
    skipped: int = 0
    stored: bool = False
    new_by_version: dict[str, int] = field(default_factory=dict)


def _schema() -> pa.Schema:
    schema = pa.schema([pa.field(name, kind) for name, kind in FEATURES_COLUMNS.items()])
    return schema.with_metadata({_FORMAT_KEY: FEATURES_FORMAT.encode()})


def write_task_features(
    features: Iterable[TaskFeatures],
    path: Path,
    task_names: Mapping[str, str] | None = None,
) -> int:
    """Write task features to a Parquet file in the features format, atomically.

    Args:
        features: What to write, one row each, in the order given.
        path: The file (written next to it, then renamed into place).
        task_names: ``{task_id: name}`` for the optional ``task_name`` column.

    Returns:
        How many rows were written.

    Raises:
        InvalidRequestError: Two items share a task id and version.
    """
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for item in features:
        key = (item.task_id, item.version)
        if key in seen:
            raise InvalidRequestError(
                f"features of task {item.task_id!r} version {item.version!r} given twice"
            )
        seen.add(key)
        rows.append(
            {
                "task_id": item.task_id,
                "version": item.version,
                "names": list(item.names),
                "values": [v if math.isfinite(v) else None for v in item.values],
                "task_name": (task_names or {}).get(item.task_id),
            }
        )
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        table = pa.Table.from_pylist(rows, schema=_schema())
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(rows)


def export_task_features(
    store: RecordStore,
    path: Path,
    version: str | Sequence[str],
    task_ids: Collection[str] | None = None,
) -> int:
    """Write every stored task's features of one version (or several, one after another),
    ordered by task id.

    Args:
        store: Where the features are stored.
        path: The Parquet file (written atomically).
        version: The feature-set version, or versions.
        task_ids: Only these tasks' features (those stored); default: every task's.

    Returns:
        How many tasks' features were written (rows of the first version).
    """
    versions = [version] if isinstance(version, str) else list(version)
    rows: list[TaskFeatures] = []
    first = 0
    for position, name in enumerate(versions):
        stored = store.list_task_features(name)
        if task_ids is not None:
            wanted = set(task_ids)
            stored = {k: v for k, v in stored.items() if k in wanted}
        rows += [stored[k] for k in sorted(stored)]
        first = len(rows) if position == 0 else first
    names = {t.task_id: t.name for t in store.list_tasks()}
    write_task_features(rows, path, names)
    return first


def _open(path: Path) -> pa.Table:
    table = open_table(path)
    given = (table.schema.metadata or {}).get(_FORMAT_KEY)
    if given is not None and given.decode(errors="replace") != FEATURES_FORMAT:
        raise InvalidRequestError(
            f"{path} is in features format {given.decode(errors='replace')!r}; this warmstart "
            f"reads format {FEATURES_FORMAT!r}"
        )
    check_columns(
        path,
        table,
        FEATURES_REQUIRED_COLUMNS,
        FEATURES_COLUMNS,
        "a features file, not a records file?",
    )
    return table


def _text(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{column} must be a non-empty string, got {value!r}")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidRequestError(f"names must be a non-empty list of strings, got {value!r}")
    for name in value:
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(f"names must hold non-empty strings, got {name!r}")
    if len(set(value)) != len(value):
        twice = sorted({n for n in value if value.count(n) > 1})
        raise InvalidRequestError(f"names must be unique; repeated: {', '.join(twice)}")
    return tuple(value)


def _values(value: Any, n_names: int) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise InvalidRequestError(f"values must be a list of numbers, got {value!r}")
    if len(value) != n_names:
        raise InvalidRequestError(f"{n_names} names but {len(value)} values")
    out: list[float] = []
    for item in value:
        if item is None:
            out.append(math.nan)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            out.append(float(item))
        else:
            raise InvalidRequestError(f"values must be numbers or null, got {item!r}")
    return tuple(out)


def read_task_features(path: Path) -> tuple[list[FeatureRow], list[RowError]]:
    """Read and check a features file on its own (no store needed).

    Returns:
        The valid rows and the invalid rows' errors, each in file order.

    Raises:
        InvalidRequestError: The file is missing, unreadable, of another format
            version, or lacks a required column or has an unknown one.
    """
    path = Path(path)
    table = _open(path)
    valid: list[FeatureRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    layout: dict[str, tuple[tuple[str, ...], int]] = {}  # version -> names, first row
    for index, row in enumerate(table.to_pylist()):
        try:
            task_id, version = _text(row, "task_id"), _text(row, "version")
            names = _names(row.get("names"))
            values = _values(row.get("values"), len(names))
            task_name = row.get("task_name")
            if task_name is not None and (not isinstance(task_name, str) or not task_name):
                raise InvalidRequestError(
                    f"task_name must be a non-empty string, got {task_name!r}"
                )
            first = seen.setdefault((task_id, version), index)
            if first != index:
                raise InvalidRequestError(
                    f"task {task_id!r} version {version!r} already given in row {first}"
                )
            known = layout.setdefault(version, (names, index))
            if known[0] != names:
                raise InvalidRequestError(
                    f"names differ from row {known[1]}'s for version {version!r}: every row "
                    "of one version must have the same names in the same order"
                )
            valid.append(
                FeatureRow(index, TaskFeatures(task_id, version, names, values), task_name)
            )
        except InvalidRequestError as exc:
            errors.append(RowError(index, str(exc)))
    return valid, errors


def import_task_features(
    store: RecordStore, path: Path, *, skip_unknown_tasks: bool = False
) -> FeaturesImportReport:
    """Validate a features file against the store, then store it in one transaction.

    Args:
        store: Where to import; the rows' tasks must be stored already.
        path: A Parquet file in the features format.
        skip_unknown_tasks: Leave out rows whose task is not stored, instead of
            refusing them.

    Returns:
        What was read, refused, left out and stored. With any invalid row,
        nothing is stored and ``report.stored`` is False.

    Raises:
        InvalidRequestError: The file is unreadable or not in the features format,
            or names a version's features otherwise than the version's fixed names.
    """
    valid, invalid = read_task_features(path)
    _check_fixed_names(store, path, valid)
    report = FeaturesImportReport(rows=len(valid) + len(invalid), invalid=invalid)
    stored_tasks = {t.task_id: t for t in store.list_tasks()}
    have: dict[str, set[str]] = {}
    wanted: list[TaskFeatures] = []
    for row in valid:
        item, name = row.features, row.task_name
        task = stored_tasks.get(item.task_id)
        if task is None:
            if skip_unknown_tasks:
                report.skipped += 1
                continue
            report.invalid.append(
                RowError(
                    row.row,
                    f"task {item.task_id!r} is not stored; import its records first "
                    "(warmstart records import)",
                )
            )
            continue
        if name is not None and name != task.name:
            report.invalid.append(
                RowError(row.row, f"task {item.task_id!r} is stored as {task.name!r}, not {name!r}")
            )
            continue
        if item.version not in have:
            have[item.version] = set(store.list_task_features(item.version))
        if item.task_id in have[item.version]:
            report.already += 1
        else:
            wanted.append(item)
    report.invalid.sort(key=lambda e: e.row)
    if report.invalid:
        return report
    report.new = store.put_task_features(wanted)
    report.already += len(wanted) - report.new  # stored meanwhile by another writer
    report.stored = True
    for item in wanted:
        report.new_by_version[item.version] = report.new_by_version.get(item.version, 0) + 1
    return report


def _check_fixed_names(store: RecordStore, path: Path, rows: Iterable[FeatureRow]) -> None:
    """Refuse the file if a version's names differ from those that version already has."""
    # Loaded here, not with the store: the feature code pulls in scikit-learn.
    from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION, require_names

    given: dict[str, tuple[str, ...]] = {}
    for row in rows:
        given.setdefault(row.features.version, row.features.names)
    for version, names in given.items():
        if version == FEATURE_VERSION:
            where = f"{path} ({version} is the feature set warmstart computes)"
            require_names(version, FEATURE_NAMES, names, where)
            continue
        stored = next(iter(store.list_task_features(version).values()), None)
        if stored is not None:
            require_names(version, stored.names, names, f"{path}")
