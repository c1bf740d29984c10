"""Two knowledge-base folders' records compared, on small hand-written records files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warmstart.benchmarks.kb import compare_records
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError


def _row(space: str, task: str, config: str, score: float | None, **fields: Any) -> dict[str, Any]:
    return {
        "space_name": space,
        "task_id": task,
        "config_hash": config,
        "seed": 0,
        "fidelity": 1.0,
        "source": "benchmark",
        "task_name": f"pmlb/{task}",
        "status": "ok" if score is not None else "timeout",
        "score": score,
    } | fields


def _folder(path: Path, rows: list[dict[str, Any]], hashes: dict[str, str] | None = None) -> Path:
    path.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), path / "pmlb_records.parquet")
    if hashes is not None:
        spaces = {name: {"bundle": {"training": {"data_hash": h}}} for name, h in hashes.items()}
        (path / "provenance.json").write_text(json.dumps({"spaces": spaces, "files": {}}))
    return path


def _records_file(folder: Path, scores: list[float | None], statuses: list[str]) -> Path:
    # Config c twice: two client reports of one config, which share a key.
    rows = [
        _row("svm", "t1", config, score, status=status, source=source)
        for config, score, status, source in zip(
            "abcc", scores, statuses, ["benchmark", "benchmark", "client", "client"], strict=True
        )
    ]
    return _folder(folder, rows)


def test_tolerance_is_relative_to_large_scores_and_repeated_keys_pair_in_file_order(
    tmp_path: Path,
) -> None:
    ok = ["ok"] * 4
    ours = _records_file(tmp_path / "ours", [-2.0e6, 0.5, 0.1, 0.2], ok)
    theirs = _records_file(tmp_path / "theirs", [-2.0e6 + 1.0, 0.5 + 1e-7, 0.1, 0.2], ok)
    [loose] = compare_records(ours, theirs, tolerance=1e-6).spaces
    assert (loose.same, loose.changed) == (4, 0)  # 1 in 2e6 and 1e-7 are within 1e-6
    assert loose.largest_gap == pytest.approx(5e-7)  # 1 / 2e6
    [strict] = compare_records(ours, theirs, tolerance=1e-8).spaces
    assert (strict.same, strict.changed) == (2, 2)

    swapped = _records_file(tmp_path / "swapped", [-2.0e6, 0.5, 0.2, 0.1], ok)
    [paired] = compare_records(ours, swapped).spaces
    assert (paired.same, paired.changed) == (2, 2)

    failed = _records_file(
        tmp_path / "failed", [-2.0e6, None, 0.1, 0.2], ["ok", "timeout", *ok[2:]]
    )
    [result] = compare_records(ours, failed).spaces
    assert (result.changed, result.theirs_not_ok) == (1, 1)
    assert result.differences[0].ours == ("ok", 0.5)
    assert result.differences[0].theirs is not None
    assert result.differences[0].theirs[0] == "timeout"
    assert math.isnan(result.differences[0].theirs[1])


def test_differences_are_counted_per_space_and_listed_up_to_keep(tmp_path: Path) -> None:
    knn = [_row("knn", "t1", c, 0.5 + i / 10) for i, c in enumerate("abcd")]
    lr = [_row("lr", "t1", c, 0.7) for c in "ab"]
    ours = _folder(tmp_path / "ours", knn + lr, hashes={"knn": "h1", "lr": "h2"})
    changed = [dict(r) for r in knn]
    changed[0]["score"] += 0.25
    changed[1]["score"] += 1e-12
    changed[2] |= {"status": "timeout", "score": None}
    del changed[3]
    theirs = _folder(tmp_path / "theirs", changed + lr, hashes={"knn": "h9", "lr": "h2"})

    compared = compare_records(ours, theirs)
    knn_result, lr_result = compared.spaces
    assert (knn_result.ours, knn_result.theirs, knn_result.theirs_not_ok) == (4, 3, 1)
    assert (knn_result.same, knn_result.changed, knn_result.only_ours) == (0, 3, 1)
    assert knn_result.largest_gap == pytest.approx(0.25)
    assert knn_result.data_hashes == ("h1", "h9")
    assert len(knn_result.differences) == 4
    absent = [d for d in knn_result.differences if d.theirs is None]
    assert [(d.config_hash, d.ours) for d in absent] == [("d", ("ok", 0.8))]
    assert lr_result.identical
    assert lr_result.data_hashes == ("h2", "h2")
    assert [s.space for s in compared.differing] == ["knn"]

    [tolerant, _] = compare_records(ours, theirs, tolerance=1e-9, keep=1).spaces
    assert (tolerant.same, tolerant.changed) == (1, 2)  # the 1e-12 change is the same
    assert len(tolerant.differences) == 1


def test_only_the_other_folders_spaces_and_with_only_its_tasks_its_tasks_are_compared(
    tmp_path: Path,
) -> None:
    rows = [_row("knn", t, "a", 0.5) for t in ("t1", "t2")] + [_row("lr", "t1", "a", 0.6)]
    ours = _folder(tmp_path / "ours", rows)
    # A folder whose provenance is not a build's: its records are compared alone.
    theirs = _folder(tmp_path / "theirs", rows[:1])
    (theirs / "provenance.json").write_text('{"spaces": ["not", "a", "mapping"]}')
    whole = compare_records(ours, theirs)
    assert whole.not_compared == ("lr",)
    assert [(s.space, s.same, s.only_ours) for s in whole.spaces] == [("knn", 1, 1)]
    assert whole.spaces[0].data_hashes == (None, None)
    part = compare_records(ours, theirs, only_its_tasks=True)
    assert [(s.space, s.same, s.only_ours, s.identical) for s in part.spaces] == [
        ("knn", 1, 0, True)
    ]


@pytest.mark.parametrize(
    ("setup", "tolerance", "error", "message"),
    [
        ("missing", 0.0, FailedPreconditionError, "no knowledge base folder at"),
        ("empty", 0.0, FailedPreconditionError, "has no pmlb_records.parquet"),
        ("garbage", 0.0, FailedPreconditionError, "is not a readable records file"),
        ("copy", -1.0, InvalidRequestError, "--tolerance must be a finite number >= 0, got -1.0"),
        ("copy", math.nan, InvalidRequestError, "--tolerance must be a finite number >= 0"),
    ],
)
def test_bad_input_is_refused_clearly(
    tmp_path: Path, setup: str, tolerance: float, error: type[Exception], message: str
) -> None:
    ours = _folder(tmp_path / "ours", [_row("knn", "t1", "a", 0.5)])
    other = tmp_path / "other"
    if setup != "missing":
        other.mkdir()
    if setup == "garbage":
        (other / "pmlb_records.parquet").write_bytes(b"not parquet")
    if setup == "copy":
        (other / "pmlb_records.parquet").write_bytes((ours / "pmlb_records.parquet").read_bytes())
    with pytest.raises(error) as caught:
        compare_records(ours, other, tolerance=tolerance)
    assert message in str(caught.value)
