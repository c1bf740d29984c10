"""Records as Parquet: round trip, files others produce, and invalid files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from metamodel.errors import InvalidRequestError
from metamodel.store import RecordFilter, RecordStore, export_records, import_records
from metamodel.types import RecordSource
from tests.factories import make_records, pmlb_tasks, small_space


def _filled(store: RecordStore) -> int:
    tasks, space = pmlb_tasks(4), small_space()
    records = make_records(tasks, space, 15)
    store.add_all(tasks=tasks, spaces=[space], records=records)
    return len(records)


def test_export_then_import_into_another_store(store: RecordStore, tmp_path: Path) -> None:
    count = _filled(store)
    path = tmp_path / "records.parquet"
    assert export_records(store, path) == count
    with RecordStore.open(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        report = import_records(copy, path)
        assert report.stored
        assert (report.rows, report.new_records, report.new_tasks, report.new_spaces) == (
            count,
            count,
            4,
            1,
        )
        assert copy.list_tasks() == store.list_tasks()
        original = {r.key: r for r in store.get_records()}
        for record in copy.get_records():
            twin = original[record.key]
            assert (record.score, record.status, record.error) == (
                twin.score,
                twin.status,
                twin.error,
            )
            assert record.source is RecordSource.BENCHMARK  # kept from the file
        assert import_records(copy, path).new_records == 0


def test_export_can_filter(store: RecordStore, tmp_path: Path) -> None:
    _filled(store)
    path = tmp_path / "ok.parquet"
    from metamodel.types import RecordStatus

    count = export_records(store, path, RecordFilter(status=RecordStatus.OK))
    assert count == store.count_records(RecordFilter(status=RecordStatus.OK))
    assert set(pd.read_parquet(path)["status"]) == {"ok"}


def _minimal_frame() -> pd.DataFrame:
    """The smallest file another tool could write: the required columns only."""
    space = small_space()
    configs = [
        {"C": 1.0, "kernel": "linear", "shrinking": True},
        {"C": 10.0, "kernel": "rbf", "gamma": 0.01, "shrinking": False},
        {"C": 0.5, "kernel": "poly", "degree": 3, "shrinking": True},
    ]
    return pd.DataFrame(
        {
            "task_name": ["openml/credit-g"] * 3,
            "task_type": ["binary"] * 3,
            "space_name": [space.name] * 3,
            "space_definition": [space.definition] * 3,
            "config": [json.dumps(c) for c in configs],
            "status": ["ok", "ok", "failed"],
            "score": [0.71, 0.78, None],
        }
    )


def test_a_file_with_only_the_required_columns_imports(store: RecordStore, tmp_path: Path) -> None:
    path = tmp_path / "theirs.parquet"
    _minimal_frame().to_parquet(path)
    report = import_records(store, path)
    assert report.stored
    assert report.new_records == 3
    records = store.get_records()
    assert {r.source for r in records} == {RecordSource.IMPORT}
    assert store.list_tasks()[0].name == "openml/credit-g"


def test_partly_invalid_file_stores_nothing_and_names_the_rows(
    store: RecordStore, tmp_path: Path
) -> None:
    frame = _minimal_frame()
    frame.loc[1, "config"] = json.dumps({"C": 10.0, "kernel": "rbf", "shrinking": False})
    frame.loc[2, "status"] = "exploded"
    extra = frame.iloc[[0]].assign(config="{not json", task_type="binary")
    frame = pd.concat([frame, extra], ignore_index=True)
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    report = import_records(store, path)
    assert not report.stored
    reasons = {e.row: e.reason for e in report.invalid}
    assert set(reasons) == {1, 2, 3}
    assert "active parameter(s) missing: 'gamma'" in reasons[1]
    assert "status must be one of ok, failed, timeout, got 'exploded'" in reasons[2]
    assert "config is not valid JSON" in reasons[3]
    assert store.count_records() == 0
    assert store.list_tasks() == []
    assert store.list_spaces() == []


def test_skip_invalid_stores_the_rest_and_writes_rejects(
    store: RecordStore, tmp_path: Path
) -> None:
    frame = _minimal_frame()
    frame.loc[0, "config"] = json.dumps({"C": -5.0, "kernel": "linear", "shrinking": True})
    path, rejects = tmp_path / "bad.parquet", tmp_path / "rejects.parquet"
    frame.to_parquet(path)
    report = import_records(store, path, skip_invalid=True, rejects_path=rejects)
    assert report.stored
    assert report.new_records == 2
    rejected = pd.read_parquet(rejects)
    assert list(rejected["row_number"]) == [0]
    assert "parameter 'C' must be a number in [0.001, 1000.0]" in rejected["reject_reason"][0]


def test_files_that_are_not_records_are_refused(store: RecordStore, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 but not really")
    with pytest.raises(InvalidRequestError, match="not a readable Parquet file"):
        import_records(store, garbage)
    missing = tmp_path / "missing.parquet"
    _minimal_frame().drop(columns=["score", "status"]).to_parquet(missing)
    with pytest.raises(InvalidRequestError, match="lacks required column"):
        import_records(store, missing)
    unknown = tmp_path / "unknown.parquet"
    _minimal_frame().assign(colour="red").to_parquet(unknown)
    with pytest.raises(InvalidRequestError, match="unknown column"):
        import_records(store, unknown)
    with pytest.raises(InvalidRequestError, match="no such file"):
        import_records(store, tmp_path / "nowhere.parquet")
    assert store.count_records() == 0


def test_a_task_redefined_by_the_file_is_refused(store: RecordStore, tmp_path: Path) -> None:
    frame = _minimal_frame()
    frame.loc[2, "task_type"] = "multiclass"
    frame["task_id"] = "abc"
    path = tmp_path / "clash.parquet"
    frame.to_parquet(path)
    report = import_records(store, path)
    assert [e.row for e in report.invalid] == [2]
    assert "task_id abc is 'openml/credit-g' (binary) elsewhere" in report.invalid[0].reason
