"""Records and meta-features as Parquet: round trips, files others produce, invalid files."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.factories import make_records, pmlb_tasks, small_space
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.store import (
    FEATURES_COLUMNS,
    RecordFilter,
    RecordStore,
    export_records,
    export_task_features,
    import_records,
    import_task_features,
    read_task_features,
    write_task_features,
)
from warmstart.metamodel.types import RecordSource, TaskFeatures


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
    from warmstart.metamodel.types import RecordStatus

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


# -- the meta-features format ----------------------------------------------------------------


def _described(store: RecordStore) -> list[TaskFeatures]:
    """Three stored tasks with features, one with a missing value and one infinite."""
    tasks = pmlb_tasks(3)
    store.put_tasks(tasks)
    names = ("n_rows", "skewness", "entropy")
    features = [
        TaskFeatures(t.task_id, "mf-test", names, (float(i), math.nan if i == 1 else 0.5, 1.0))
        for i, t in enumerate(tasks)
    ]
    features[2] = TaskFeatures(tasks[2].task_id, "mf-test", names, (2.0, math.inf, -1.0))
    store.put_task_features(features)
    return features


def _features_frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["task_id", "version", "names", "values"])


def test_features_round_trip_into_another_store(store: RecordStore, tmp_path: Path) -> None:
    original = _described(store)
    path = tmp_path / "features.parquet"
    assert export_task_features(store, path, "mf-test") == 3
    assert export_task_features(store, tmp_path / "none.parquet", "mf-other") == 0
    frame = pd.read_parquet(path)
    assert list(frame.columns) == list(FEATURES_COLUMNS)
    assert frame["task_name"].tolist() == sorted(t.name for t in pmlb_tasks(3))
    with RecordStore.open(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        copy.put_tasks(pmlb_tasks(3))
        report = import_task_features(copy, path)
        assert (report.stored, report.rows, report.new, report.already) == (True, 3, 3, 0)
        stored = copy.list_task_features("mf-test")
        for item in original:
            got = stored[item.task_id]
            assert got.names == item.names
            expected = [v if math.isfinite(v) else math.nan for v in item.values]
            assert got.values == pytest.approx(expected, nan_ok=True)
        again = import_task_features(copy, path)
        assert (again.stored, again.new, again.already) == (True, 0, 3)


def test_features_of_tasks_not_stored_are_refused_or_skipped(
    store: RecordStore, tmp_path: Path
) -> None:
    path = tmp_path / "features.parquet"
    write_task_features([TaskFeatures("nobody", "mf-test", ("a",), (1.0,))], path)
    report = import_task_features(store, path)
    assert not report.stored
    assert [e.row for e in report.invalid] == [0]
    assert "task 'nobody' is not stored; import its records first" in report.invalid[0].reason
    skipped = import_task_features(store, path, skip_unknown_tasks=True)
    assert (skipped.stored, skipped.new, skipped.skipped) == (True, 0, 1)


def test_a_partly_invalid_features_file_stores_nothing(store: RecordStore, tmp_path: Path) -> None:
    tasks = pmlb_tasks(6)
    store.put_tasks(tasks)
    good = {"version": "mf-test", "names": ["a", "b"], "values": [1.0, None]}
    rows: list[dict[str, object]] = [
        {**good, "task_id": tasks[0].task_id},
        {**good, "task_id": tasks[1].task_id, "values": [1.0]},
        {**good, "task_id": tasks[2].task_id, "names": ["a", "a"]},
        {**good, "task_id": tasks[3].task_id, "names": ["b", "a"]},
        {**good, "task_id": tasks[0].task_id},
        {**good, "task_id": ""},
    ]
    path = tmp_path / "bad.parquet"
    _features_frame(rows).to_parquet(path)
    report = import_task_features(store, path)
    assert not report.stored
    reasons = {e.row: e.reason for e in report.invalid}
    assert sorted(reasons) == [1, 2, 3, 4, 5]
    assert "2 names but 1 values" in reasons[1]
    assert "names must be unique; repeated: a" in reasons[2]
    assert "names differ from row 0's" in reasons[3]
    assert "already given in row 0" in reasons[4]
    assert "task_id must be a non-empty string" in reasons[5]
    assert store.list_task_features("mf-test") == {}

    named = tmp_path / "named.parquet"
    write_task_features(
        [TaskFeatures(tasks[0].task_id, "mf-test", ("a",), (1.0,))],
        named,
        {tasks[0].task_id: "pmlb/someone-else"},
    )
    clash = import_task_features(store, named)
    assert not clash.stored
    assert "is stored as" in clash.invalid[0].reason
    assert store.list_task_features("mf-test") == {}


def test_files_that_are_not_features_are_refused(store: RecordStore, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 but not really")
    with pytest.raises(InvalidRequestError, match="not a readable Parquet file"):
        import_task_features(store, garbage)
    records = tmp_path / "records.parquet"
    _minimal_frame().to_parquet(records)
    with pytest.raises(InvalidRequestError, match=r"lacks required column.*not a records file"):
        import_task_features(store, records)
    unknown = tmp_path / "unknown.parquet"
    row = {"task_id": "t", "version": "v", "names": ["a"], "values": [1.0]}
    _features_frame([row]).assign(colour="red").to_parquet(unknown)
    with pytest.raises(InvalidRequestError, match="unknown column"):
        import_task_features(store, unknown)
    newer = tmp_path / "newer.parquet"
    table = pa.Table.from_pylist([row]).replace_schema_metadata({"warmstart_features_format": "2"})
    pq.write_table(table, newer)
    with pytest.raises(InvalidRequestError, match="features format '2'"):
        import_task_features(store, newer)
    with pytest.raises(InvalidRequestError, match="no such file"):
        import_task_features(store, tmp_path / "nowhere.parquet")


def test_reading_a_features_file_needs_no_store(tmp_path: Path) -> None:
    ints = tmp_path / "ints.parquet"
    row = {"task_id": "t1", "version": "v", "names": ["a", "b"], "values": [1, None]}
    _features_frame([row]).to_parquet(ints)
    valid, invalid = read_task_features(ints)
    assert invalid == []
    assert [(r.row, r.features.values[0], r.task_name) for r in valid] == [(0, 1.0, None)]
    assert math.isnan(valid[0].features.values[1])
    texts = tmp_path / "texts.parquet"
    _features_frame([{**row, "values": ["x", "2"]}]).to_parquet(texts)
    valid, invalid = read_task_features(texts)
    assert valid == []
    assert [(e.row, e.reason) for e in invalid] == [(0, "values must be numbers or null, got 'x'")]


def test_writing_the_same_task_and_version_twice_is_refused(tmp_path: Path) -> None:
    item = TaskFeatures("t", "v", ("a",), (1.0,))
    with pytest.raises(InvalidRequestError, match="given twice"):
        write_task_features([item, item], tmp_path / "twice.parquet")
    assert not (tmp_path / "twice.parquet").exists()
