"""Many ask/tell loops against one server: every report stored once, no error.

Each of ``--clients`` threads registers a task of its own (the meta-features of a
shipped PMLB task under a new name), then runs ``--trials`` rounds of one
SuggestConfigs by task id (k=1) and one ReportResults of the suggested config with a
made-up score. The server is ``warmstart serve`` in a child process on the given
database, serving the shipped LightGBM bundle. Checked and printed: errors, whether
every answer used all earlier reports as observations and repeated no tried config,
whether each task ends with exactly ``--trials`` stored results, and latencies; and,
from one more client that sends a health Check every ``--check-every`` seconds while
the loops run, the Check's latency (the loops' answers are long work: they must not
hold up the server's other calls).

    python -m warmstart.benchmarks.perf.ask_tell_load [--db URL] [--clients 16] [--trials 30]
        [--check-every 0.01]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pyarrow.parquet as pq
from grpc_health.v1 import health_pb2, health_pb2_grpc

from warmstart.benchmarks.kb import KB_FEATURES, default_kb_dir
from warmstart.benchmarks.perf.edge_load import SERVICE, running_server
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc

TOKEN = "ask-tell-load"
SPACE = "lightgbm"


@dataclass
class LoopResult:
    """What one client's loop saw."""

    task_id: str = ""
    errors: list[str] = field(default_factory=list)
    wrong_observations: int = 0
    repeats: int = 0
    suggest_seconds: list[float] = field(default_factory=list)
    report_seconds: list[float] = field(default_factory=list)


def _value(value: pb.ParameterValue) -> object:
    kind = value.WhichOneof("kind")
    return None if kind is None else getattr(value, kind)


def _score(config: pb.Config) -> float:
    """A made-up score, a fixed function of the config."""
    text = repr(sorted((k, _value(v)) for k, v in config.parameters.items()))
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _loop(
    address: str, features: pb.TaskFeatures, n_rows: int, index: int, trials: int
) -> LoopResult:
    result = LoopResult()
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.WarmstartStub(channel)
        try:
            registered = stub.RegisterTask(
                pb.RegisterTaskRequest(
                    name=f"load/{index}", task_type="binary", n_rows=n_rows, n_features=10,
                    features=features,
                ),
                metadata=metadata,
            )  # fmt: skip
            result.task_id = registered.task.task_id
            tried: set[bytes] = set()
            for trial in range(trials):
                start = time.perf_counter()
                answer = stub.SuggestConfigs(
                    pb.SuggestConfigsRequest(task_id=result.task_id, space=SPACE, k=1)
                )
                result.suggest_seconds.append(time.perf_counter() - start)
                config = answer.suggestions[0].config
                key = config.SerializeToString(deterministic=True)
                result.repeats += key in tried
                tried.add(key)
                result.wrong_observations += answer.observations != trial
                start = time.perf_counter()
                stub.ReportResults(
                    pb.ReportResultsRequest(
                        results=[
                            pb.Result(
                                id=f"load-{result.task_id}-{trial}", task_id=result.task_id,
                                space=SPACE, config=config, status=pb.RESULT_STATUS_OK,
                                score=_score(config),
                            )
                        ]
                    ),
                    metadata=metadata,
                )  # fmt: skip
                result.report_seconds.append(time.perf_counter() - start)
        except grpc.RpcError as exc:
            result.errors.append(f"{exc.code().name}: {exc.details()}")
    return result


def _checks(address: str, every: float, done: threading.Event) -> list[float]:
    """Seconds of each health Check sent every ``every`` seconds until ``done``."""
    seconds: list[float] = []
    request = health_pb2.HealthCheckRequest(service=SERVICE)
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while not done.wait(every):
            start = time.perf_counter()
            health.Check(request, timeout=60)
            seconds.append(time.perf_counter() - start)
    return seconds


def _features(n: int) -> list[tuple[pb.TaskFeatures, int]]:
    """The meta-features of ``n`` shipped PMLB tasks (their rows from ``log_n_rows``)."""
    table = pq.read_table(default_kb_dir() / KB_FEATURES).to_pylist()[:n]
    out = []
    for row in table:
        values: Mapping[str, float] = {
            name: math.nan if value is None else float(value)
            for name, value in zip(row["names"], row["values"], strict=True)
        }
        rows = round(float(np.exp(values.get("log_n_rows", np.log(1000)))))
        features = pb.TaskFeatures(
            feature_version=row["version"],
            features=[pb.MetaFeature(name=k, value=v) for k, v in values.items()],
        )
        out.append((features, max(rows, 2)))
    return out


def run(
    db: str, clients: int, trials: int, log_dir: Path, check_every: float = 0.01
) -> dict[str, object]:
    """Run the loops against a fresh server on ``db``, health Checks beside them; return
    the figures."""
    model = default_kb_dir() / "models" / f"{SPACE}.wsb"
    tasks = _features(clients)
    results = [LoopResult() for _ in range(clients)]
    with (
        (log_dir / "server.log").open("w") as log,
        running_server(model, db, log, ["--token", TOKEN, "--create-db"]) as (address, _pid),
    ):
        done = threading.Event()
        checks: list[float] = []
        prober = threading.Thread(target=lambda: checks.extend(_checks(address, check_every, done)))
        prober.start()
        start = time.perf_counter()
        threads = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(
                    i, _loop(address, tasks[i][0], tasks[i][1], i, trials)
                )
            )
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        done.set()
        prober.join()
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.WarmstartStub(channel)
            stored = []
            for r in results:
                if not r.task_id:
                    continue
                detail = stub.GetTask(pb.GetTaskRequest(task_id=r.task_id))
                stored.append(sum(s.results for s in detail.results))
    suggest = np.array([s for r in results for s in r.suggest_seconds]) * 1000
    report = np.array([s for r in results for s in r.report_seconds]) * 1000
    return {
        "clients": clients,
        "trials": trials,
        "errors": [e for r in results for e in r.errors],
        "tasks_with_all_results": sum(n == trials for n in stored),
        "stored_per_task": sorted(set(stored)),
        "answers_missing_observations": sum(r.wrong_observations for r in results),
        "repeated_configs": sum(r.repeats for r in results),
        "wall_seconds": round(wall, 2),
        "suggest_ms_p50_p99": _percentiles(suggest),
        "report_ms_p50_p99": _percentiles(report),
        "checks": len(checks),
        "check_ms_p50_p99": _percentiles(np.array(checks) * 1000),
    }


def _percentiles(values: np.ndarray) -> list[float]:
    if not len(values):
        return []
    return [round(float(np.percentile(values, q)), 1) for q in (50, 99)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="Database URL (default: a new SQLite file).")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument(
        "--check-every", type=float, default=0.01, help="Seconds between health Checks."
    )
    args = parser.parse_args(argv)
    if args.check_every <= 0:
        parser.error(f"--check-every must be > 0 seconds, got {args.check_every}")
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or f"sqlite:///{Path(folder) / 'load.db'}"
        figures = run(db, args.clients, args.trials, Path(folder), args.check_every)
    for name, value in figures.items():
        print(f"{name}: {value}")
    ok = (
        not figures["errors"]
        and figures["tasks_with_all_results"] == args.clients
        and figures["answers_missing_observations"] == 0
        and figures["repeated_configs"] == 0
    )
    print("OK: every report stored once, no error" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
