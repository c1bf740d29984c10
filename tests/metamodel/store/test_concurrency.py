"""Many processes writing one database: exactly the unique records are stored."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable

import pytest

from tests.factories import pmlb_tasks, small_space
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import EvaluationRecord, RecordStatus

N_PROCESSES = 8
PER_PROCESS = 5_000
SHARED = PER_PROCESS // 5  # 20% of each process's records are also written by another one
BATCH = 500


def _record(task_ids: list[str], space_id: str, key: int) -> EvaluationRecord:
    config: dict[str, float | str | bool] = {
        "C": 1e-3 * (1 + key % 997),
        "kernel": "linear",
        "shrinking": bool(key % 2),
    }
    return EvaluationRecord(
        task_id=task_ids[key % len(task_ids)],
        space_id=space_id,
        config=config,
        config_hash=config_hash(config),
        score=(key % 1000) / 1000,
        status=RecordStatus.OK,
        seed=key,
        metrics={"roc_auc": (key % 1000) / 1000},
        fit_seconds=0.5,
    )


def _keys(worker: int) -> list[int]:
    """Worker w owns PER_PROCESS - SHARED keys and repeats SHARED keys of worker w+1."""
    own = PER_PROCESS - SHARED
    mine = list(range(worker * own, (worker + 1) * own))
    neighbour = (worker + 1) % N_PROCESSES
    return mine + list(range(neighbour * own, neighbour * own + SHARED))


def _writer(url: str, task_ids: list[str], space_id: str, worker: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        new = 0
        keys = _keys(worker)
        with RecordStore.open(url) as store:
            for start in range(0, len(keys), BATCH):
                batch = [_record(task_ids, space_id, k) for k in keys[start : start + BATCH]]
                new += store.add_records(batch)
        out.put((worker, new, None))
    except BaseException as exc:  # report any failure to the parent
        out.put((worker, 0, repr(exc)))


@pytest.mark.slow
def test_eight_processes_store_exactly_the_unique_records(
    store_url: str, store: RecordStore
) -> None:
    tasks, space = pmlb_tasks(20), small_space()
    store.add_all(tasks=tasks, spaces=[space])
    task_ids = [t.task_id for t in tasks]
    context = mp.get_context("spawn")
    out: mp.Queue = context.Queue()  # type: ignore[type-arg]
    target: Callable[..., None] = _writer
    workers = [
        context.Process(target=target, args=(store_url, task_ids, space.space_id, w, out))
        for w in range(N_PROCESSES)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    errors = [(w, e) for w, _, e in results if e]
    assert errors == []
    unique = N_PROCESSES * (PER_PROCESS - SHARED)
    assert sum(new for _, new, _ in results) == unique
    assert store.count_records() == unique
    assert all(w.exitcode == 0 for w in workers)
