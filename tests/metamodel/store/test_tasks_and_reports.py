"""Paged task listing, per-space counts and client reports, on every backend."""

from __future__ import annotations

import dataclasses

import pytest

from tests.factories import make_records, ok_record, pmlb_tasks, small_space
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.store import ConflictError, RecordStore
from warmstart.metamodel.types import (
    ConfigValue,
    EvaluationRecord,
    RecordSource,
    Task,
    TaskType,
)


def _named(names: list[str]) -> list[Task]:
    return [
        Task(f"t{i:02d}", name, TaskType.BINARY, "client", n_rows=10, n_features=2)
        for i, name in enumerate(names)
    ]


def test_tasks_come_a_page_at_a_time_by_name_then_id(store: RecordStore) -> None:
    tasks = _named(["b/x", "a/y", "a/x", "a/x", "c", "A/z", "a%"])
    store.put_tasks(tasks)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = store.page_tasks(2, after=after)
        seen.extend(t.task_id for t in page.tasks)
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    expected = sorted(tasks, key=lambda t: (t.name, t.task_id))
    if store.backend == "postgresql":  # its collation may order case apart from code points
        assert sorted(seen) == sorted(t.task_id for t in tasks)
    else:
        assert seen == [t.task_id for t in expected]
    assert len(seen) == len(set(seen)) == 7
    assert pages == 4


def test_the_name_prefix_is_literal_and_case_sensitive(store: RecordStore) -> None:
    store.put_tasks(_named(["a/x", "a/y", "A/z", "a%", "b/a"]))
    assert [t.name for t in store.page_tasks(10, name_prefix="a/").tasks] == ["a/x", "a/y"]
    assert [t.name for t in store.page_tasks(10, name_prefix="a%").tasks] == ["a%"]
    page = store.page_tasks(1, name_prefix="a/")
    assert [t.name for t in page.tasks] == ["a/x"]
    assert page.next_after == ("a/x", "t00")
    rest = store.page_tasks(1, name_prefix="a/", after=page.next_after)
    assert [t.name for t in rest.tasks] == ["a/y"]
    assert rest.next_after is None
    assert store.page_tasks(5, name_prefix="zz").tasks == []
    with pytest.raises(InvalidRequestError, match="limit must be >= 1"):
        store.page_tasks(0)


def test_records_are_counted_per_space_of_a_task(store: RecordStore) -> None:
    tasks, space, other = pmlb_tasks(2), small_space(), small_space("other")
    store.add_all(tasks=tasks, spaces=[space, other])
    store.add_records(make_records(tasks, space, 4) + make_records(tasks[:1], other, 3))
    assert store.task_record_counts(tasks[0].task_id) == [
        (other.space_id, "other", 3),
        (space.space_id, "svm_like", 4),
    ]
    assert store.task_record_counts("nope") == []


def _client(record_id: str, task: Task, score: float, c: float) -> EvaluationRecord:
    config: dict[str, ConfigValue] = {"C": c, "kernel": "linear", "shrinking": True}
    record = ok_record(task.task_id, small_space(), config, score)
    return dataclasses.replace(record, source=RecordSource.CLIENT, external_id=record_id)


def test_reports_count_already_duplicates_and_refuse_changed_payloads(store: RecordStore) -> None:
    task, space = pmlb_tasks(1)[0], small_space()
    store.add_all(tasks=[task], spaces=[space])
    first = [_client("a", task, 0.5, 1.0), _client("b", task, 0.6, 2.0)]
    done = store.add_reported(first)
    assert (done.stored, done.already, done.duplicates) == (2, 0, ())
    again = store.add_reported(
        [first[0], _client("c", task, 0.9, 2.0), _client("d", task, 0.7, 3.0)]
    )
    assert (again.stored, again.already, again.duplicates) == (1, 1, ("c",))
    with pytest.raises(ConflictError, match=r"'a'.*different payload"):
        store.add_reported([_client("e", task, 0.1, 5.0), _client("a", task, 0.55, 1.0)])
    assert store.count_records() == 3  # the refused batch stored nothing, not even "e"
    assert {r.external_id for r in store.get_records()} == {"a", "b", "d"}
