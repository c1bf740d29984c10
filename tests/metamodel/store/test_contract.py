"""The store's contract, run on every backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import math
import pickle

import pytest

from tests.factories import make_records, pmlb_tasks, small_space
from warmstart.metamodel.errors import InvalidRequestError, NotFoundError
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import (
    EvaluationRecord,
    ModelVersion,
    RecordSource,
    RecordStatus,
    TaskFeatures,
)


def test_tasks_are_put_once_and_read_back(store: RecordStore) -> None:
    tasks = pmlb_tasks(5)
    assert store.put_tasks(tasks) == 5
    assert store.put_tasks(tasks + tasks) == 0
    assert store.get_task(tasks[0].task_id) == tasks[0]
    wanted = [tasks[3].task_id, "not-stored", tasks[1].task_id, tasks[3].task_id]
    assert store.get_tasks(wanted) == {t.task_id: t for t in (tasks[3], tasks[1])}
    assert store.get_tasks([]) == {}
    assert [t.name for t in store.list_tasks()] == sorted(t.name for t in tasks)


def test_a_task_id_cannot_be_redefined(store: RecordStore) -> None:
    task = pmlb_tasks(1)[0]
    store.put_task(task)
    clash = dataclasses.replace(task, name="something/else")
    with pytest.raises(InvalidRequestError, match="refusing to redefine"):
        store.put_task(clash)


def test_unknown_task_is_not_found(store: RecordStore) -> None:
    with pytest.raises(NotFoundError, match="no task with id 'nope'"):
        store.get_task("nope")


def test_spaces_are_versioned_by_content(store: RecordStore) -> None:
    space = small_space()
    assert store.put_space(space) is True
    assert store.put_space(space) is False
    assert store.get_space(space.space_id) == space
    assert store.find_space("svm_like") == space
    with pytest.raises(NotFoundError, match="stored spaces: svm_like"):
        store.find_space("lightgbm")
    with pytest.raises(NotFoundError):
        store.get_space("0" * 16)


def test_add_records_counts_only_new_ones(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(3), small_space()
    store.put_tasks(tasks)
    store.put_space(space)
    records = make_records(tasks, space, 20)
    assert store.add_records(records) == 60
    assert store.add_records(records) == 0
    assert store.add_records(records[:10] + records[:10]) == 0
    assert store.count_records() == 60


def test_what_the_store_reads_back_pickles_and_stays_read_only(store: RecordStore) -> None:
    # Evaluations hand tasks and records to worker processes by pickling them.
    tasks, space = pmlb_tasks(2), small_space()
    store.put_tasks(tasks)
    store.put_space(space)
    store.add_records(make_records(tasks, space, 3))
    version = ModelVersion("lgbm-1", "lightgbm", "/models/1", "aa", metrics={"regret@1": 0.1})
    for value in [*store.list_tasks(), *store.get_records(), version]:
        copy = pickle.loads(pickle.dumps(value))
        assert repr(copy) == repr(value)  # NaN metrics compare unequal to themselves
        assert type(copy) is type(value)
        for name in ("stats", "config", "metrics"):
            if hasattr(copy, name):
                with pytest.raises(TypeError):
                    getattr(copy, name)["x"] = 1


def test_duplicates_inside_one_batch_are_stored_once(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(1), small_space()
    store.put_tasks(tasks)
    store.put_space(space)
    records = make_records(tasks, space, 5)
    assert store.add_records(records + records) == 5


def test_records_round_trip_with_every_field(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(1), small_space()
    store.put_tasks(tasks)
    store.put_space(space)
    original = make_records(tasks, space, 10)
    store.add_records(original)
    stored = {r.config_hash: r for r in store.get_records()}
    for record in original:
        back = stored[record.config_hash]
        assert back.record_id is not None
        assert back.created_at is not None
        assert back.created_at.tzinfo is not None
        assert dict(back.config) == dict(record.config)
        assert back.score == record.score
        assert back.status is record.status
        assert back.error == record.error
        assert back.fit_seconds == pytest.approx(record.fit_seconds)
        for key, value in record.metrics.items():
            assert (math.isnan(value) and math.isnan(back.metrics[key])) or value == back.metrics[
                key
            ]


def test_seed_and_fidelity_are_part_of_the_key(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(1), small_space()
    store.put_tasks(tasks)
    store.put_space(space)
    record = make_records(tasks, space, 1)[0]
    variants = [
        record,
        dataclasses.replace(record, seed=1),
        dataclasses.replace(record, fidelity=0.5),
    ]
    assert store.add_records(variants) == 3
    assert store.add_records(variants) == 0


def test_queries_filter_by_space_task_status_and_source(store: RecordStore) -> None:
    tasks, space, other = pmlb_tasks(2), small_space(), small_space("other_space")
    store.put_tasks(tasks)
    store.put_space(space)
    store.put_space(other)
    store.add_records(make_records(tasks, space, 10))
    store.add_records(make_records(tasks[:1], other, 4, source=RecordSource.CLIENT))
    assert store.count_records() == 24
    assert store.count_records(RecordFilter(space_id=space.space_id)) == 20
    assert store.count_records(RecordFilter(space_name="other_space")) == 4
    assert store.count_records(RecordFilter(task_id=tasks[1].task_id)) == 10
    failed = store.get_records(RecordFilter(status=RecordStatus.FAILED))
    assert failed
    assert all(r.status is RecordStatus.FAILED and r.score is None and r.error for r in failed)
    assert store.count_records(RecordFilter(source=RecordSource.CLIENT)) == 4
    assert len(store.get_records(limit=3)) == 3
    assert len(list(store.iter_records(RecordFilter(space_name="svm_like")))) == 20
    assert len(store.record_keys(RecordFilter(space_id=space.space_id))) == 20


def test_invalid_records_are_refused_and_nothing_is_stored(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(1), small_space()
    store.put_tasks(tasks)
    store.put_space(space)
    good = make_records(tasks, space, 3)
    bad = [
        dataclasses.replace(good[0], score=float("nan")),
        dataclasses.replace(good[1], status=RecordStatus.FAILED),
        dataclasses.replace(good[2], config_hash="f" * 32),
    ]
    with pytest.raises(InvalidRequestError) as info:
        store.add_records([*good, *bad])
    message = str(info.value)
    assert "record 3: status 'ok' needs a finite score" in message
    assert "record 4: status 'failed' must not carry a score" in message
    assert "record 5: config_hash does not match" in message
    assert store.count_records() == 0


def test_records_of_unknown_tasks_are_refused_whole(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(2), small_space()
    store.put_tasks(tasks[:1])
    store.put_space(space)
    with pytest.raises(NotFoundError, match="unknown task id"):
        store.add_records(make_records(tasks, space, 3))
    assert store.count_records() == 0


def test_add_all_is_one_transaction(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(2), small_space()
    records = make_records(tasks, space, 3)
    missing_space = dataclasses.replace(records[0], space_id="0" * 16)
    with pytest.raises(NotFoundError):
        store.add_all(tasks=tasks, spaces=[space], records=[*records, missing_space])
    assert store.list_tasks() == []
    assert store.list_spaces() == []
    assert store.add_all(tasks=tasks, spaces=[space], records=records) == (2, 1, 6)


def test_external_ids_make_client_reports_idempotent(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(1), small_space()
    store.put_tasks(tasks)
    store.put_space(space)
    first, second = make_records(tasks, space, 2, source=RecordSource.CLIENT)
    assert store.add_records([dataclasses.replace(first, external_id="client-1")]) == 1
    # Same id again, even with another config: already stored, not an error.
    assert store.add_records([dataclasses.replace(second, external_id="client-1")]) == 0
    assert store.count_records() == 1


def test_task_features_per_version(store: RecordStore) -> None:
    task = pmlb_tasks(1)[0]
    store.put_task(task)
    v1 = TaskFeatures(task.task_id, "v1", ("n_rows", "entropy"), (100.0, float("nan")))
    v2 = TaskFeatures(task.task_id, "v2", ("n_rows",), (100.0,))
    assert store.put_task_features([v1, v2]) == 2
    assert store.put_task_features([v1]) == 0
    back = store.get_task_features(task.task_id, "v1")
    assert back.names == v1.names
    assert back.values[0] == 100.0
    assert math.isnan(back.values[1])
    assert set(store.list_task_features("v2")) == {task.task_id}
    with pytest.raises(NotFoundError, match="version 'v3'"):
        store.get_task_features(task.task_id, "v3")


def test_model_versions_and_serving_flag(store: RecordStore) -> None:
    a = ModelVersion("lgbm-1", "lightgbm", "/models/1", "aa", metrics={"regret@1": 0.1})
    b = ModelVersion("lgbm-2", "lightgbm", "/models/2", "bb")
    store.add_model_version(a)
    store.add_model_version(b)
    with pytest.raises(InvalidRequestError, match="already registered"):
        store.add_model_version(a)
    store.set_serving("lgbm-1")
    store.set_serving("lgbm-2")
    serving = [m.version for m in store.list_model_versions("lightgbm") if m.serving]
    assert serving == ["lgbm-2"]
    assert store.get_model_version("lgbm-1").metrics["regret@1"] == pytest.approx(0.1)
    with pytest.raises(NotFoundError):
        store.set_serving("lgbm-9")


def test_stats_count_everything(store: RecordStore) -> None:
    tasks, space = pmlb_tasks(2), small_space()
    store.add_all(tasks=tasks, spaces=[space], records=make_records(tasks, space, 10))
    stats = store.stats()
    assert (stats.tasks, stats.spaces, stats.records) == (2, 1, 20)
    assert stats.records_by_space == {"svm_like": 20}
    assert sum(stats.records_by_status.values()) == 20
    assert stats.records_by_source == {"benchmark": 20}


def test_a_second_handle_sees_the_same_data(store: RecordStore, store_url: str) -> None:
    tasks, space = pmlb_tasks(1), small_space()
    store.add_all(tasks=tasks, spaces=[space], records=make_records(tasks, space, 4))
    with RecordStore.open(store_url) as other:
        assert other.count_records() == 4
        assert other.add_records(make_records(tasks, space, 4)) == 0


def test_record_type_rejects_bad_enums() -> None:
    with pytest.raises(InvalidRequestError, match="status must be one of 'ok', 'failed'"):
        EvaluationRecord("t", "s", {}, config_hash({}), None, status="crashed")  # type: ignore[arg-type]
