"""What a knowledge-base folder holds: counts per space, and its files against provenance."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from warmstart.benchmarks.kb._layout import KB_PROVENANCE, KB_RECORDS, file_sha256, kb_files
from warmstart.benchmarks.kb._provenance import read_provenance
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.types import RecordStatus

__all__ = ["FileCheck", "KbInfo", "kb_info", "read_records_columns", "records_counts"]

Check = Literal["ok", "changed", "missing", "not in provenance"]


def read_records_columns(path: Path, columns: list[str]) -> pa.Table:
    """Some columns of a knowledge base's records file.

    Raises:
        FailedPreconditionError: The file is missing, not Parquet, or lacks a column.
    """
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise FailedPreconditionError(f"{path} is not a readable records file: {exc}") from None


def records_counts(path: Path) -> dict[str, dict[str, int]]:
    """Per space, by name: tasks, records and the count of each status, from a records file.

    Raises:
        FailedPreconditionError: The file is not a readable records file.
    """
    table = read_records_columns(path, ["space_name", "task_id", "status"])
    spaces = table.column("space_name").to_pylist()
    tasks = table.column("task_id").to_pylist()
    statuses = table.column("status").to_pylist()
    counted: dict[str, Counter[str]] = {}
    task_sets: dict[str, set[str]] = {}
    for space, task, status in zip(spaces, tasks, statuses, strict=True):
        counted.setdefault(space, Counter())[status] += 1
        task_sets.setdefault(space, set()).add(task)
    return {
        space: {
            "tasks": len(task_sets[space]),
            "records": sum(counts.values()),
            **{s.value: counts[s.value] for s in RecordStatus},
        }
        for space, counts in sorted(counted.items())
    }


@dataclass(frozen=True)
class FileCheck:
    """One data file of the folder; ``check`` is None without a provenance file.

    ``size`` is None for a file provenance lists but the folder lacks, and
    ``sha256`` is then the hash provenance expects.
    """

    name: str
    size: int | None
    sha256: str | None
    check: Check | None


@dataclass(frozen=True)
class KbInfo:
    """What a knowledge-base folder holds.

    ``provenance`` is its ``provenance.json`` (None if it has none); ``spaces``
    the per-space counts (and, from provenance, the bundle) by space name;
    ``files`` its data files, checked against provenance where there is one.
    """

    root: Path
    provenance: dict[str, Any] | None
    spaces: dict[str, dict[str, Any]]
    files: tuple[FileCheck, ...]

    @property
    def listed(self) -> int:
        """How many files provenance lists."""
        return len(self.provenance["files"]) if self.provenance else 0

    @property
    def mismatched(self) -> list[str]:
        """Files provenance lists that are missing or changed."""
        return [f.name for f in self.files if f.check in ("missing", "changed")]


def kb_info(root: Path) -> KbInfo:
    """Read what a knowledge-base folder holds and check its files against provenance.

    Without ``provenance.json``, the counts come from the records file and the
    files are not checked.

    Raises:
        FailedPreconditionError: The folder is missing, has neither provenance nor
            records, or one of them is unreadable.
    """
    if not root.is_dir():
        raise FailedPreconditionError(f"no knowledge base folder at {root}")
    provenance_path = root / KB_PROVENANCE
    if not provenance_path.is_file():
        if not (root / KB_RECORDS).is_file():
            raise FailedPreconditionError(f"{root} has neither {KB_PROVENANCE} nor {KB_RECORDS}")
        files = tuple(
            FileCheck(name, (root / name).stat().st_size, file_sha256(root / name), None)
            for name in kb_files(root)
        )
        return KbInfo(root, None, records_counts(root / KB_RECORDS), files)
    provenance = read_provenance(provenance_path)
    listed: dict[str, Any] = provenance["files"]
    checks = []
    for name in sorted(set(listed) | set(kb_files(root))):
        path = root / name
        expected = listed.get(name) or {}
        if not path.is_file():
            checks.append(FileCheck(name, None, expected.get("sha256"), "missing"))
            continue
        digest, size = file_sha256(path), path.stat().st_size
        check: Check
        if name not in listed:
            check = "not in provenance"
        elif digest == expected.get("sha256") and size == expected.get("bytes"):
            check = "ok"
        else:
            check = "changed"
        checks.append(FileCheck(name, size, digest, check))
    spaces = provenance.get("spaces")
    return KbInfo(root, provenance, spaces if isinstance(spaces, dict) else {}, tuple(checks))
