"""What a knowledge-base folder holds, and its files checked against provenance.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warmstart.benchmarks.kb import kb_info, records_counts
from warmstart.metamodel.errors import FailedPreconditionError


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kb(root: Path) -> Path:
    """Records of two spaces (one timeout), meta-features, a bundle, and provenance."""
    root.mkdir()
    rows = {
        "space_name": ["knn", "knn", "knn", "lr"],
        "task_id": ["t1", "t1", "t2", "t1"],
        "status": ["ok", "timeout", "ok", "ok"],
    }
    pq.write_table(pa.table(rows), root / "pmlb_records.parquet")
    (root / "pmlb_features.parquet").write_bytes(b"features")
    (root / "models").mkdir()
    (root / "models" / "knn.wsb").write_bytes(b"bundle")
    files = {
        name: {"sha256": _sha256(root / name), "bytes": (root / name).stat().st_size}
        for name in ("pmlb_records.parquet", "pmlb_features.parquet", "models/knn.wsb")
    }
    spaces = {"knn": {"tasks": 2, "records": 3, "bundle": {"version": "knn-1"}}}
    provenance = {"command": "warmstart kb build", "spaces": spaces, "files": files}
    (root / "provenance.json").write_text(json.dumps(provenance))
    return root


def test_a_folder_whose_files_match_provenance_checks_ok(tmp_path: Path) -> None:
    info = kb_info(_kb(tmp_path / "kb"))
    assert info.provenance is not None
    assert info.provenance["command"] == "warmstart kb build"
    assert info.spaces["knn"]["bundle"] == {"version": "knn-1"}
    assert [(f.name, f.check) for f in info.files] == [
        ("models/knn.wsb", "ok"),
        ("pmlb_features.parquet", "ok"),
        ("pmlb_records.parquet", "ok"),
    ]
    knn = next(f for f in info.files if f.name == "models/knn.wsb")
    assert (knn.size, knn.sha256) == (6, _sha256(tmp_path / "kb" / "models" / "knn.wsb"))
    assert (info.listed, info.mismatched) == (3, [])


def test_changed_missing_and_unlisted_files_are_told_apart(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb")
    expected = _sha256(kb / "models" / "knn.wsb")
    with (kb / "pmlb_features.parquet").open("ab") as handle:
        handle.write(b"\0")
    (kb / "models" / "knn.wsb").unlink()
    (kb / "models" / "svm.wsb").write_bytes(b"another")
    info = kb_info(kb)
    checks = {f.name: (f.check, f.size, f.sha256) for f in info.files}
    assert checks["pmlb_features.parquet"][0] == "changed"
    assert checks["models/knn.wsb"] == ("missing", None, expected)
    assert checks["models/svm.wsb"][0] == "not in provenance"
    assert checks["pmlb_records.parquet"][0] == "ok"
    assert info.mismatched == ["models/knn.wsb", "pmlb_features.parquet"]


def test_without_provenance_the_counts_come_from_the_records(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb")
    (kb / "provenance.json").unlink()
    info = kb_info(kb)
    assert info.provenance is None
    assert info.spaces == {
        "knn": {"tasks": 2, "records": 3, "ok": 2, "failed": 0, "timeout": 1},
        "lr": {"tasks": 1, "records": 1, "ok": 1, "failed": 0, "timeout": 0},
    }
    assert info.spaces == records_counts(kb / "pmlb_records.parquet")
    assert {f.check for f in info.files} == {None}
    assert (info.listed, info.mismatched) == (0, [])


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no knowledge base folder at"),
        ("empty", "has neither provenance.json nor pmlb_records.parquet"),
        ("bad json", "is not readable JSON"),
        ("no files", "is not a provenance file of `warmstart kb build`"),
    ],
)
def test_a_folder_that_is_not_a_knowledge_base_is_refused_clearly(
    tmp_path: Path, setup: str, message: str
) -> None:
    root = tmp_path / "kb"
    if setup != "missing":
        root.mkdir()
    if setup == "bad json":
        (root / "provenance.json").write_text("{")
    if setup == "no files":
        (root / "provenance.json").write_text('{"spaces": {}}')
    with pytest.raises(FailedPreconditionError) as caught:
        kb_info(root)
    assert message in str(caught.value)
