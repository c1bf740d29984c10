"""Many clients report at once, re-sending some ids: each result is stored exactly once.

Runs on SQLite and PostgreSQL (``store_url``): on PostgreSQL the re-sent ids
race between transactions of different clients, which only the unique index on
``external_id`` and ``ON CONFLICT DO NOTHING`` keep single.
"""

from __future__ import annotations

import threading

import pytest

from tests.service.server.conftest import (
    TASK_IDS,
    WRITE_TOKEN,
    ServerThread,
    registry_with,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.store import RecordFilter
from warmstart.metamodel.types import RecordSource
from warmstart.service.client import WarmstartClient
from warmstart.service.wire.api import ReportedResult, ReportSummary

CLIENTS = 16
PER_CLIENT = 1000
UNIQUE = 900  # the other 100 are re-sent ids: 10 %
BATCHES = 10


def result(client: int, j: int) -> ReportedResult:
    """The result with id ``c{client}-{j}``; the same id always carries the same content."""
    return ReportedResult(
        result_id=f"c{client}-{j}",
        task_id=TASK_IDS[j % len(TASK_IDS)],
        space="svm_like",
        config={"C": 0.5 + (j % 7), "kernel": "linear", "shrinking": j % 2 == 0},
        score=0.5 + (j % 10) / 100,
        seed=client * PER_CLIENT + j,
    )


def batches(client: int) -> list[list[ReportedResult]]:
    """Ten batches of 90 new results and 10 re-sent ids (the neighbour's, racing; and our own)."""
    neighbour = (client + 1) % CLIENTS
    per = UNIQUE // BATCHES
    out = []
    for b in range(BATCHES):
        new = [result(client, j) for j in range(b * per, (b + 1) * per)]
        theirs = [result(neighbour, j) for j in range(b * per, b * per + 5)]
        ours = [result(client, j) for j in range((b - 1) * per, (b - 1) * per + 5)] if b else []
        extra = [result(neighbour, j) for j in range(b * per + 5, b * per + 10)] if not b else []
        out.append(new + theirs + ours + extra)
    assert sum(len(batch) for batch in out) == PER_CLIENT
    return out


@pytest.mark.slow
def test_concurrent_clients_store_each_result_exactly_once(bundle: ModelBundle, store_url: str):
    store = seed_store(store_url)
    summaries: list[ReportSummary] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    with ServerThread(registry_with(bundle), store, settings()) as server:

        def work(client: int) -> None:
            try:
                with WarmstartClient(server.target, token=WRITE_TOKEN, timeout=120) as c:
                    for batch in batches(client):
                        summary = c.report(batch)
                        with lock:
                            summaries.append(summary)
            except BaseException as exc:
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors[:3]
        stored = store.get_records(RecordFilter(source=RecordSource.CLIENT))
    assert len(summaries) == CLIENTS * BATCHES
    assert sum(s.stored for s in summaries) == CLIENTS * UNIQUE
    assert sum(s.already for s in summaries) == CLIENTS * (PER_CLIENT - UNIQUE)
    assert len(stored) == CLIENTS * UNIQUE
    assert {r.external_id for r in stored} == {
        f"c{c}-{j}" for c in range(CLIENTS) for j in range(UNIQUE)
    }
