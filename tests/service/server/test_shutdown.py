"""SIGTERM under load: `warmstart serve` drains in-flight calls; no acknowledged result is lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from tests.service.server.conftest import TASK_IDS, WRITE_TOKEN, seed_store
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import RecordSource
from warmstart.service.client import WarmstartClient, WarmstartRpcError
from warmstart.service.wire.api import ReportedResult

CLIENTS = 4
BATCH = 200


def batch(client: int, number: int) -> list[ReportedResult]:
    return [
        ReportedResult(
            result_id=f"c{client}-b{number}-{j}",
            task_id=TASK_IDS[j % len(TASK_IDS)],
            space="svm_like",
            config={"C": 1.0 + j % 5, "kernel": "linear", "shrinking": True},
            score=0.5,
            seed=(client * 10_000 + number) * BATCH + j,
        )
        for j in range(BATCH)
    ]


def start_server(db: str, model: Path) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "warmstart.service.cli", "serve", "--db", db, "--model", str(model),
        "--port", "0", "--token", WRITE_TOKEN, "--watch-seconds", "0", "--grace-seconds", "20",
    ]  # fmt: skip
    env = {**os.environ, "WARMSTART_HOME": str(model.parent)}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"listening on ([\d.]+:\d+)", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise AssertionError(f"the server exited with {process.wait()} before listening")


@pytest.mark.slow
def test_sigterm_drains_in_flight_calls_and_loses_no_acknowledged_result(
    bundle: ModelBundle, tmp_path: Path
):
    db = f"sqlite:///{tmp_path / 'warmstart.db'}"
    seed_store(db).close()
    bundle.save(tmp_path / "model.wsb")
    process, target = start_server(db, tmp_path / "model.wsb")
    acked: set[str] = set()
    calls: list[tuple[float, float, grpc.StatusCode, frozenset[str]]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def work(client: int) -> None:
        with WarmstartClient(target, token=WRITE_TOKEN, retries=0, timeout=60) as c:
            number = 0
            while not stop.is_set():
                results = batch(client, number)
                start = time.monotonic()
                try:
                    c.report(results)
                    code = grpc.StatusCode.OK
                except WarmstartRpcError as exc:
                    code = exc.code
                with lock:
                    ids = frozenset(r.result_id for r in results)
                    calls.append((start, time.monotonic(), code, ids))
                    if code is grpc.StatusCode.OK:
                        acked.update(r.result_id for r in results)
                if code is not grpc.StatusCode.OK:
                    return
                number += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acked) < 8 * BATCH and time.monotonic() < deadline:
            time.sleep(0.02)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
        for thread in threads:
            thread.join(timeout=60)
    with RecordStore.open(db) as store:
        stored = {
            r.external_id for r in store.get_records(RecordFilter(source=RecordSource.CLIENT))
        }
    assert acked, "no call was acknowledged before SIGTERM"
    assert acked <= stored
    # Calls well under way when the signal came were drained, not cut off.
    assert all(
        code is grpc.StatusCode.OK for start, _, code, _ in calls if start < signalled - 0.25
    )
    spanning = [code for start, end, code, _ in calls if start < signalled < end]
    assert grpc.StatusCode.OK in spanning
    # Calls after it were refused as UNAVAILABLE (retryable). One that reached the server as
    # it began shutting down, before a handler took it, can end CANCELLED instead: gRPC
    # core ends such pending calls so (grpc/grpc issue 41785); its handler never ran.
    for start, _, code, ids in calls:
        if code is grpc.StatusCode.CANCELLED:
            assert start >= signalled - 0.25, "a call under way before SIGTERM was cancelled"
        else:
            assert code in {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, code
        # Never half-done: a refused batch is stored whole or not at all.
        assert code is grpc.StatusCode.OK or not ids & stored or ids <= stored
