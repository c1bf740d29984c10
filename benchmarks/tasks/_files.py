"""A folder of tables as a task suite (the PMLB suite is one).

Files: ``.csv``, ``.tsv``, ``.csv.gz``, ``.tsv.gz`` and ``.parquet``, each with
a target column. An optional ``manifest.csv`` in the folder lists the tasks
and what is known about them, so listing reads no data:

    name,task,n_rows,n_features,n_classes,family,synthetic,file

Only ``name`` is required; ``task`` is ``classification`` or ``regression``
(empty: inferred); ``file`` defaults to the first existing ``<name><ext>``;
``family`` defaults to the name; a ``target`` column may name a per-file
target column. Without a manifest every supported file is a task, named by its
file name without extensions.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow

from warmstart.benchmarks.tasks._base import Suite, TaskData, TaskInfo
from warmstart.benchmarks.tasks._build import build_task_data, split_target
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import TaskType

__all__ = ["MANIFEST_NAME", "SUPPORTED_EXTENSIONS", "FolderSuite", "read_table"]

SUPPORTED_EXTENSIONS = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")
MANIFEST_NAME = "manifest.csv"

# Errors a reader raises on a damaged or foreign file (gzip: OSError/EOFError,
# zlib.error; CSV parser and Unicode: ValueError; pyarrow: ArrowException).
_READ_ERRORS = (OSError, ValueError, EOFError, zlib.error, pyarrow.ArrowException)


def table_extension(path: Path) -> str | None:
    """Return the supported extension ``path`` ends with, or ``None``."""
    lowered = path.name.lower()
    # Longest first, so "a.csv.gz" is ".csv.gz", not ".gz".
    for extension in sorted(SUPPORTED_EXTENSIONS, key=len, reverse=True):
        if lowered.endswith(extension) and len(lowered) > len(extension):
            return extension
    return None


def read_table(path: str | Path) -> Any:
    """Read a CSV, TSV (optionally gzipped) or Parquet file into a DataFrame.

    Args:
        path: The file; its extension picks the format.

    Returns:
        The table (``pandas.DataFrame``) with the dtypes the reader inferred.

    Raises:
        InvalidRequestError: Unsupported extension, missing, unreadable or
            corrupt file (the message names the file).
    """
    path = Path(path)
    extension = table_extension(path)
    if extension is None:
        raise InvalidRequestError(
            f"{path}: unsupported file type; supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such file")
    try:
        if extension == ".parquet":
            return pd.read_parquet(path)
        separator = "\t" if extension.startswith(".tsv") else ","
        return pd.read_csv(path, sep=separator, compression="infer", low_memory=False)
    except pd.errors.EmptyDataError:
        raise InvalidRequestError(f"{path}: the file is empty (no header row)") from None
    except _READ_ERRORS as exc:
        raise InvalidRequestError(
            f"{path}: cannot read the file ({type(exc).__name__}: {exc})"
        ) from exc


@dataclass(frozen=True)
class _Entry:
    info: TaskInfo
    file: Path | None
    target: str
    task_word: str | None  # the manifest's task column, passed on to build_task_data


class FolderSuite(Suite):
    """Tasks from the table files in one folder, listed by an optional manifest.

    Args:
        path: The folder.
        target: Name of the target column in every file (a manifest ``target``
            column overrides it per file).
        kind: The tasks' ``source`` (``"files"``, or ``"pmlb"`` for PMLB).
        name: Prefix of task names; defaults to ``kind``.
        require_manifest: Refuse a folder without ``manifest.csv``.

    Raises:
        InvalidRequestError: The folder is missing, has no supported files, or
            its manifest is malformed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        target: str = "target",
        kind: str = "files",
        name: str | None = None,
        require_manifest: bool = False,
    ) -> None:
        self.path = Path(path).expanduser()
        self.target = target
        self.kind = kind
        self.name = name or kind
        if not self.path.is_dir():
            what = "is not a folder" if self.path.exists() else "does not exist"
            raise InvalidRequestError(
                f"{self.kind} suite: {self.path} {what}; give a folder of "
                f"{', '.join(SUPPORTED_EXTENSIONS)} files"
            )
        manifest = self.path / MANIFEST_NAME
        self.has_manifest = manifest.is_file()
        if require_manifest and not self.has_manifest:
            raise InvalidRequestError(
                f"{self.kind} suite: {self.path} has no {MANIFEST_NAME}; "
                f"use files:{self.path} for a folder without one"
            )
        self._entries = self._read_manifest(manifest) if self.has_manifest else self._scan()

    def describe(self) -> str:
        """Return a one-line description of the suite."""
        listed_by = MANIFEST_NAME if self.has_manifest else "no manifest"
        return f"{self.name}: {len(self._entries)} tasks from {self.path} ({listed_by})"

    def list_tasks(self) -> list[TaskInfo]:
        """List the tasks from the manifest (or the folder's files) without reading data."""
        return [entry.info for entry in self._entries.values()]

    def load(self, name: str) -> TaskData:
        """Read one task's file and build the task.

        Args:
            name: A task name from :meth:`list_tasks`.

        Returns:
            The task and its data.

        Raises:
            NotFoundError: No task of that name.
            InvalidRequestError: The file is missing, unreadable or unusable.
        """
        if name not in self._entries:
            raise self._unknown_task(name)
        entry = self._entries[name]
        file = entry.file
        if file is None:
            raise InvalidRequestError(
                f"{self.path / MANIFEST_NAME} lists task {name!r} but no file "
                f"{name}<ext> exists for it (ext: {', '.join(SUPPORTED_EXTENSIONS)})"
            )
        if not file.is_file():
            raise InvalidRequestError(
                f"{self.path / MANIFEST_NAME} lists {file.name} for task {name!r}, "
                "but that file does not exist"
            )
        X, y = split_target(read_table(file), entry.target, str(file))
        return build_task_data(
            X,
            y,
            name=f"{self.name}/{name}",
            source=self.kind,
            family=entry.info.family,
            task_type=entry.task_word,
        )

    def _scan(self) -> dict[str, _Entry]:
        entries: dict[str, _Entry] = {}
        for file in sorted(self.path.iterdir()):
            extension = table_extension(file)
            if extension is None or not file.is_file() or file.name == MANIFEST_NAME:
                continue
            stem = file.name[: -len(extension)]
            if stem in entries:
                other = entries[stem].file
                raise InvalidRequestError(
                    f"{self.path}: {other.name if other else stem} and {file.name} would "
                    f"both be task {stem!r}; keep one, or add a {MANIFEST_NAME}"
                )
            entries[stem] = _Entry(TaskInfo(name=stem, family=stem), file, self.target, None)
        if not entries:
            raise InvalidRequestError(
                f"{self.kind} suite: {self.path} holds no {', '.join(SUPPORTED_EXTENSIONS)} files"
            )
        return entries

    def _read_manifest(self, manifest: Path) -> dict[str, _Entry]:
        try:
            table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise InvalidRequestError(f"{manifest}: the manifest is empty") from None
        except _READ_ERRORS as exc:
            raise InvalidRequestError(f"{manifest}: cannot read the manifest ({exc})") from exc
        if "name" not in table.columns:
            raise InvalidRequestError(
                f"{manifest}: needs a 'name' column; columns are {list(table.columns)}"
            )
        entries: dict[str, _Entry] = {}
        for line, row in enumerate(table.to_dict("records"), start=2):
            where = f"{manifest} line {line}"
            name = row["name"].strip()
            if not name:
                raise InvalidRequestError(f"{where}: empty task name")
            if name in entries:
                raise InvalidRequestError(f"{where}: task {name!r} is listed twice")
            info = TaskInfo(
                name=name,
                task_type=_manifest_task_type(row.get("task", ""), row.get("n_classes", ""), where),
                family=row.get("family", "").strip() or name,
                n_rows=_manifest_int(row.get("n_rows", ""), "n_rows", where),
                n_features=_manifest_int(row.get("n_features", ""), "n_features", where),
                n_classes=_manifest_int(row.get("n_classes", ""), "n_classes", where),
                synthetic=_manifest_bool(row.get("synthetic", ""), where),
            )
            target = row.get("target", "").strip() or self.target
            file = self._manifest_file(name, row.get("file", ""))
            task_word = row.get("task", "").strip().lower() or None
            entries[name] = _Entry(info, file, target, task_word)
        return entries

    def _manifest_file(self, name: str, file: str) -> Path | None:
        if file.strip():
            return self.path / file.strip()
        for extension in SUPPORTED_EXTENSIONS:
            candidate = self.path / f"{name}{extension}"
            if candidate.is_file():
                return candidate
        return None


def _manifest_int(text: str, column: str, where: str) -> int | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequestError(f"{where}: {column} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value != int(value) or value < 0:
        raise InvalidRequestError(f"{where}: {column} must be a whole number >= 0, got {text!r}")
    return int(value)


def _manifest_bool(text: str, where: str) -> bool | None:
    word = text.strip().lower()
    if not word:
        return None
    if word in ("1", "true", "yes"):
        return True
    if word in ("0", "false", "no"):
        return False
    raise InvalidRequestError(f"{where}: synthetic must be 0 or 1, got {text!r}")


def _manifest_task_type(text: str, n_classes: str, where: str) -> TaskType | None:
    word = text.strip().lower()
    if not word:
        return None
    if word == "regression":
        return TaskType.REGRESSION
    if word in ("binary", "multiclass"):
        return TaskType(word)
    if word == "classification":
        count = _manifest_int(n_classes, "n_classes", where)
        if count is None:
            return None  # classification, binary or multiclass decided on load
        return TaskType.BINARY if count == 2 else TaskType.MULTICLASS
    raise InvalidRequestError(
        f"{where}: task must be classification, regression, binary or multiclass, got {text!r}"
    )
