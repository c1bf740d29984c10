"""Records as Parquet: export a store, import a file others produced.

One row per evaluation record, with its task and search space inline (Parquet's
dictionary encoding keeps the repeated task and space columns small). The
columns are documented in ``docs/RECORDS_FORMAT.md``; :data:`REQUIRED_COLUMNS`
must be present, the rest are optional.

Import validates every row before writing anything. With invalid rows, the
default is to store nothing and report each bad row's number and reason; with
``skip_invalid`` the valid rows are stored and the invalid ones can be written
to a reject file.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from warmstart.metamodel.configs import config_hash
from warmstart.metamodel.errors import InvalidRequestError, WarmstartError
from warmstart.metamodel.store._store import RecordFilter, RecordStore
from warmstart.metamodel.types import (
    EvaluationRecord,
    RecordSource,
    RecordStatus,
    SearchSpace,
    Task,
    TaskType,
)

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "ImportReport",
    "RowError",
    "export_records",
    "import_records",
]

FORMAT_VERSION = "1"

COLUMNS: dict[str, pa.DataType] = {
    "task_id": pa.string(),
    "task_name": pa.string(),
    "task_type": pa.string(),
    "task_source": pa.string(),
    "task_family": pa.string(),
    "task_n_rows": pa.int64(),
    "task_n_features": pa.int64(),
    "task_n_classes": pa.int64(),
    "task_stats": pa.string(),
    "space_id": pa.string(),
    "space_name": pa.string(),
    "space_definition": pa.string(),
    "config": pa.string(),
    "config_hash": pa.string(),
    "seed": pa.int64(),
    "fidelity": pa.float64(),
    "score": pa.float64(),
    "status": pa.string(),
    "metrics": pa.string(),
    "fit_seconds": pa.float64(),
    "predict_seconds": pa.float64(),
    "peak_memory_mb": pa.float64(),
    "error": pa.string(),
    "source": pa.string(),
    "external_id": pa.string(),
    "created_at": pa.timestamp("us", tz="UTC"),
}
"""Every column of the format with its Arrow type."""

REQUIRED_COLUMNS = (
    "task_name",
    "task_type",
    "space_name",
    "space_definition",
    "config",
    "status",
    "score",
)
"""Columns a file must have; the others default as documented."""

_DICTIONARY = ["task_id", "task_name", "task_type", "task_source", "task_family", "task_stats"]
_DICTIONARY += ["space_id", "space_name", "space_definition", "status", "source"]
_BATCH = 50_000


@dataclass(frozen=True)
class RowError:
    """Why one row of an imported file was refused (row numbers start at 0)."""

    row: int
    reason: str


@dataclass
class ImportReport:
    """What an import read, refused and stored."""

    rows: int = 0
    invalid: list[RowError] = field(default_factory=list)
    new_tasks: int = 0
    new_spaces: int = 0
    new_records: int = 0
    stored: bool = False
    rejects_path: Path | None = None
    filled: int = 0
    """Valid rows whose config had missing active parameters filled with the space's defaults."""

    @property
    def valid(self) -> int:
        """How many rows passed validation."""
        return self.rows - len(self.invalid)


def _task_row(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "task_name": task.name,
        "task_type": task.task_type.value,
        "task_source": task.source,
        "task_family": task.family,
        "task_n_rows": task.n_rows,
        "task_n_features": task.n_features,
        "task_n_classes": task.n_classes,
        "task_stats": json.dumps(_json_floats(task.stats), sort_keys=True),
    }


def _json_floats(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in values.items()}


def export_records(store: RecordStore, path: Path, where: RecordFilter | None = None) -> int:
    """Write the selected records, with their tasks and spaces, to a Parquet file.

    The file is written next to ``path`` and renamed into place, so a failed
    export never leaves a half-written file behind.

    Returns:
        How many records were written.
    """
    tasks = {t.task_id: _task_row(t) for t in store.list_tasks()}
    spaces = {s.space_id: s for s in store.list_spaces()}
    schema = pa.schema([pa.field(name, kind) for name, kind in COLUMNS.items()])
    schema = schema.with_metadata({"warmstart_records_format": FORMAT_VERSION})
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    count = 0
    try:
        with pq.ParquetWriter(
            tmp, schema, compression="zstd", use_dictionary=_DICTIONARY
        ) as writer:
            batch: list[dict[str, Any]] = []
            for record in store.iter_records(where):
                space = spaces[record.space_id]
                batch.append(
                    {
                        **tasks[record.task_id],
                        "space_id": space.space_id,
                        "space_name": space.name,
                        "space_definition": space.definition,
                        "config": json.dumps(dict(record.config), sort_keys=True),
                        "config_hash": record.config_hash,
                        "seed": record.seed,
                        "fidelity": record.fidelity,
                        "score": record.score,
                        "status": record.status.value,
                        "metrics": json.dumps(_json_floats(record.metrics), sort_keys=True),
                        "fit_seconds": record.fit_seconds,
                        "predict_seconds": record.predict_seconds,
                        "peak_memory_mb": record.peak_memory_mb,
                        "error": record.error,
                        "source": record.source.value,
                        "external_id": record.external_id,
                        "created_at": record.created_at,
                    }
                )
                if len(batch) >= _BATCH:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    count += len(batch)
                    batch = []
            if batch or count == 0:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def open_table(path: Path) -> pa.Table:
    """Read a Parquet file, or say that it is missing or not Parquet.

    Raises:
        InvalidRequestError: No such file, or not a readable Parquet file.
    """
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such file")
    try:
        return pq.read_table(path)
    except Exception as exc:  # pyarrow raises several kinds on a bad file
        raise InvalidRequestError(f"{path} is not a readable Parquet file: {exc}") from None


def check_columns(
    path: Path, table: pa.Table, required: Collection[str], allowed: Collection[str], hint: str
) -> None:
    """Refuse a table that lacks a required column or has one not allowed.

    Raises:
        InvalidRequestError: Naming the columns, what is required (then ``hint``) and allowed.
    """
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise InvalidRequestError(
            f"{path} lacks required column(s) {', '.join(missing)}; required: "
            f"{', '.join(required)} ({hint})"
        )
    unknown = [c for c in table.column_names if c not in allowed]
    if unknown:
        raise InvalidRequestError(
            f"{path} has unknown column(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _read(path: Path) -> pa.Table:
    table = open_table(path)
    check_columns(path, table, REQUIRED_COLUMNS, COLUMNS, "see docs/RECORDS_FORMAT.md")
    return table


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=_BATCH):
        yield from batch.to_pylist()


def _none_if_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _parse_json_object(text: Any, what: str) -> dict[str, Any]:
    if text is None:
        return {}
    if not isinstance(text, str):
        raise InvalidRequestError(f"{what} must be JSON text, got {type(text).__name__}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{what} is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _floats(values: Mapping[str, Any], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in values.items():
        if value is None:
            out[key] = math.nan
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
        else:
            raise InvalidRequestError(f"{what}[{key!r}] must be a number or null, got {value!r}")
    return out


def _derived_task_id(source: str, name: str, task_type: str) -> str:
    return hashlib.sha256(f"{source}\x00{name}\x00{task_type}".encode()).hexdigest()[:16]


class _Validator:
    """Turns file rows into domain objects, remembering every task and space seen."""

    def __init__(
        self, store: RecordStore, *, fill_defaults: bool = False, lower_is_better: bool = False
    ) -> None:
        self.fill_defaults = fill_defaults
        self.lower_is_better = lower_is_better
        self.filled = False  # whether the last config read had defaults filled in
        self.tasks: dict[str, Task] = {}
        self.spaces: dict[str, SearchSpace] = {}
        self._stored_tasks = {t.task_id: t for t in store.list_tasks()}
        self._space_by_definition: dict[tuple[str, str], SearchSpace] = {}
        # ConfigSpace (and SciPy) load when a file is read, not with the store.
        from warmstart.metamodel import spaces

        self._spaces = spaces

    def task(self, row: Mapping[str, Any]) -> Task:
        name, kind = row.get("task_name"), row.get("task_type")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError("task_name must be a non-empty string")
        allowed = ", ".join(t.value for t in TaskType)
        if kind not in {t.value for t in TaskType}:
            raise InvalidRequestError(f"task_type must be one of {allowed}, got {kind!r}")
        source = row.get("task_source") or "import"
        task_id = row.get("task_id") or _derived_task_id(source, name, str(kind))
        stats = _floats(_parse_json_object(row.get("task_stats"), "task_stats"), "task_stats")
        n_classes = row.get("task_n_classes")
        task = Task(
            task_id=task_id,
            name=name,
            task_type=TaskType(str(kind)),
            source=source,
            family=row.get("task_family"),
            n_rows=int(row.get("task_n_rows") or 0),
            n_features=int(row.get("task_n_features") or 0),
            n_classes=None if n_classes is None else int(n_classes),
            stats=stats,
        )
        for known in (self.tasks.get(task_id), self._stored_tasks.get(task_id)):
            if known is not None and (known.name, known.task_type) != (task.name, task.task_type):
                raise InvalidRequestError(
                    f"task_id {task_id} is {known.name!r} ({known.task_type.value}) elsewhere, "
                    f"but {task.name!r} ({task.task_type.value}) here"
                )
        self.tasks.setdefault(task_id, task)
        return task

    def space(self, row: Mapping[str, Any]) -> SearchSpace:
        name, definition = row.get("space_name"), row.get("space_definition")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError("space_name must be a non-empty string")
        if not isinstance(definition, str) or not definition:
            raise InvalidRequestError("space_definition must be ConfigSpace JSON text")
        key = (name, definition)
        space = self._space_by_definition.get(key)
        if space is None:
            space = self._spaces.parse_search_space(name, definition)
            self._space_by_definition[key] = space
        given = row.get("space_id")
        if given and given != space.space_id:
            raise InvalidRequestError(
                f"space_id {given!r} does not match the definition's hash {space.space_id!r}"
            )
        self.spaces.setdefault(space.space_id, space)
        return space

    def record(self, row: Mapping[str, Any]) -> EvaluationRecord:
        task = self.task(row)
        space = self.space(row)
        raw = _parse_json_object(row.get("config"), "config")
        configspace = self._spaces.load_configspace(space)
        self.filled = False
        if self.fill_defaults:
            raw, filled = self._spaces.fill_defaults(configspace, raw)
            self.filled = bool(filled)
        config = self._spaces.validate_config(configspace, raw)
        digest = config_hash(config)
        given = row.get("config_hash")
        if given and given != digest:
            raise InvalidRequestError(
                f"config_hash {given!r} does not match the config's hash {digest!r}"
            )
        status = row.get("status")
        if status not in {s.value for s in RecordStatus}:
            allowed = ", ".join(s.value for s in RecordStatus)
            raise InvalidRequestError(f"status must be one of {allowed}, got {status!r}")
        source = row.get("source") or RecordSource.IMPORT.value
        if source not in {s.value for s in RecordSource}:
            allowed = ", ".join(s.value for s in RecordSource)
            raise InvalidRequestError(f"source must be one of {allowed}, got {source!r}")
        created = row.get("created_at")
        if isinstance(created, datetime) and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        seed = row.get("seed")
        if isinstance(seed, float) and seed.is_integer():
            seed = int(seed)  # pandas turns an int column with nulls into floats
        fidelity = row.get("fidelity")
        record = EvaluationRecord(
            task_id=task.task_id,
            space_id=space.space_id,
            config=config,
            config_hash=digest,
            score=self._score(_none_if_nan(row.get("score"))),
            status=RecordStatus(status),
            seed=0 if seed is None else seed,
            fidelity=1.0 if fidelity is None else fidelity,
            metrics=_floats(_parse_json_object(row.get("metrics"), "metrics"), "metrics"),
            fit_seconds=_none_if_nan(row.get("fit_seconds")),
            predict_seconds=_none_if_nan(row.get("predict_seconds")),
            peak_memory_mb=_none_if_nan(row.get("peak_memory_mb")),
            error=row.get("error"),
            source=RecordSource(source),
            external_id=row.get("external_id"),
            created_at=created if isinstance(created, datetime) else None,
        )
        problems = record.problems()
        if problems:
            raise InvalidRequestError("; ".join(problems))
        return record

    def _score(self, value: Any) -> Any:
        """The stored, higher-is-better score: a lower-is-better one is negated."""
        if self.lower_is_better and isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
        return value


def import_records(
    store: RecordStore,
    path: Path,
    *,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    fill_defaults: bool = False,
    lower_is_better: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row of a records file, then store it in one transaction.

    Args:
        store: Where to import.
        path: A Parquet file in the records format.
        skip_invalid: Store the valid rows even when some are invalid.
        rejects_path: With ``skip_invalid``, write the invalid rows here, each
            with its ``row_number`` and ``reject_reason``.
        fill_defaults: Give a config's missing active parameters the space's
            default values (:func:`warmstart.metamodel.spaces.fill_defaults`) instead of
            refusing the row; ``report.filled`` counts the rows filled.
        lower_is_better: The ``score`` column is lower-is-better (an error, a
            loss): each score is stored negated, so that higher is better as
            everywhere else. Normalisation within a task (rank, min-max) and the
            normalised regret are unchanged by the negation.
        progress: Called with the number of rows validated so far.

    Returns:
        What was read, refused and stored. Without ``skip_invalid`` and with
        any invalid row, nothing is stored and ``report.stored`` is False.

    Raises:
        InvalidRequestError: The file is unreadable or lacks required columns.
    """
    path = Path(path)
    table = _read(path)
    validator = _Validator(store, fill_defaults=fill_defaults, lower_is_better=lower_is_better)
    report = ImportReport(rows=table.num_rows)
    good: list[EvaluationRecord] = []
    for index, row in enumerate(_rows(table)):
        try:
            good.append(validator.record(row))
            report.filled += validator.filled
        except WarmstartError as exc:
            report.invalid.append(RowError(index, str(exc)))
        except (TypeError, ValueError, OverflowError) as exc:
            report.invalid.append(RowError(index, f"malformed value ({exc})"))
        if progress is not None and (index + 1) % 10_000 == 0:
            progress(index + 1)
    if report.invalid and not skip_invalid:
        return report
    if report.invalid and rejects_path is not None:
        _write_rejects(table, report.invalid, Path(rejects_path))
        report.rejects_path = Path(rejects_path)
    used_tasks = {r.task_id for r in good}
    used_spaces = {r.space_id for r in good}
    report.new_tasks, report.new_spaces, report.new_records = store.add_all(
        tasks=[t for k, t in validator.tasks.items() if k in used_tasks],
        spaces=[s for k, s in validator.spaces.items() if k in used_spaces],
        records=good,
    )
    report.stored = True
    return report


def _write_rejects(table: pa.Table, invalid: list[RowError], path: Path) -> None:
    indices = pa.array([e.row for e in invalid], type=pa.int64())
    rejected = table.take(indices)
    rejected = rejected.append_column("row_number", indices)
    rejected = rejected.append_column("reject_reason", pa.array([e.reason for e in invalid]))
    tmp = path.with_name(f".{path.name}.partial")
    try:
        pq.write_table(rejected, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
