"""SuggestConfigs latency and throughput under load, against the health Check on the same server.

Usage:
    python -m warmstart.benchmarks.perf.suggest_load [--model BUNDLE.wsb] [--db URL]
        [--duration 10] [--rounds 5] [--warmup 0.5] [--concurrency 1,16,64] [--channels 4]
        [--k 10]
        [--task breast_cancer] [--log-level info] [--servers 1] [--plot FILE.png]

The server is ``warmstart serve`` in a child process on a free loopback port
(``--servers N``: N of them sharing the port with ``--reuse-port``), as deployed
(JSON access logs at ``--log-level``, to a temporary file). Its model is
``--model``; without one, a bundle is trained with the CLI's default settings on
``--db`` (nothing is written to that database), or, with no database either,
quickly on a synthetic store of tasks around the query task.
The query task is a scikit-learn dataset whose meta-features are computed
here, so it is a realistic task the model has not necessarily seen.

The load is closed-loop: ``concurrency`` callers on a few ``grpc.aio``
channels, each sending its next call when the last one is answered, for
``--duration`` seconds per level and RPC, in ``--rounds`` windows each after
``--warmup`` seconds not measured. The two RPCs take turns window by window, so
that a shared machine whose speed drifts during a run slows both alike.
calls/s counts the calls answered within that window; the percentiles cover
every call sent in it. The client runs in this process, so on a small machine it competes with the
server for the CPUs: the figures are a floor for the server.
"""

from __future__ import annotations

# This script is a client of the service by nature, so it imports grpc and the generated
# code; pyproject.toml's import contracts make a narrow exception for this module only.
import argparse
import asyncio
import math
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import grpc
import numpy as np
import psutil
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.tasks import SKLEARN_DATASETS, load_suite
from warmstart.metamodel.bundle import TrainSettings, load_bundle, train_bundle
from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION, compute_meta_features
from warmstart.metamodel.spaces import config_hash, make_search_space, sample_configs
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import EvaluationRecord, RecordStatus, Task, TaskFeatures, TaskType
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc

SERVICE = "warmstart.v1.Warmstart"
P99_TARGET_MS = 50.0  # SuggestConfigs p99 at concurrency 16
RATIO_TARGET = 0.25  # SuggestConfigs calls/s over Check calls/s
_LISTENING = re.compile(r"warmstart listening on (\S+):(\d+)")


@dataclass(frozen=True)
class Level:
    """What one RPC did at one concurrency.

    ``calls`` counts the calls sent during the measured window and answered (their
    latencies give the percentiles); ``answered_in_window`` those answered before it
    closed, which give the rate (calls still in flight at the end would otherwise
    stretch the window by a queue's worth of work).
    """

    rpc: str
    concurrency: int
    calls: int
    answered_in_window: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # the server processes' CPU time per answered call
    client_cpu_ms: float  # this process's (the load client's) CPU time per answered call
    mean_batch: float  # SuggestConfigs calls the servers answered per pass (NaN: none)

    @property
    def rate(self) -> float:
        """Calls answered per second of the window."""
        return self.answered_in_window / self.seconds if self.seconds > 0 else 0.0


# -- the model and the query task --------------------------------------------------------------


def query_task(name: str) -> tuple[dict[str, float], str]:
    """Meta-features of a scikit-learn dataset, and a line saying what it is."""
    data = load_suite(f"sklearn:{name}").load(name)
    task = data.task
    features = compute_meta_features(data.X, data.y, task.task_type)
    return features, f"sklearn {name} ({task.task_type.value}, {task.n_rows} x {task.n_features})"


def _synthetic_store(url: str, query: Mapping[str, float], n_tasks: int, n_configs: int) -> None:
    """A store of LightGBM-space tasks whose meta-features scatter around the query's."""
    cs = get_learner("lightgbm").search_space()
    space = make_search_space("lightgbm", cs)
    rng = np.random.default_rng(0)
    base = np.array([query[name] for name in FEATURE_NAMES])
    configs = sample_configs(cs, n_configs, method="sobol", seed=0)
    tasks, features, records = [], [], []
    for i in range(n_tasks):
        vector = base * np.exp(rng.normal(0.0, 0.3, base.shape))
        task_id = f"synthetic-{i}"
        tasks.append(Task(task_id, f"synthetic/{i}", TaskType.BINARY, "synthetic", 1000, 20))
        features.append(
            TaskFeatures(task_id, FEATURE_VERSION, FEATURE_NAMES, tuple(map(float, vector)))
        )
        best_rate = -2.0 + rng.random()  # log10 of the best learning rate on this task
        for config in configs:
            rate = math.log10(float(config["learning_rate"]))
            leaves = math.log2(float(config["num_leaves"]))
            score = 0.9 - 0.05 * (rate - best_rate) ** 2 - 0.01 * (leaves - 5.0) ** 2
            records.append(
                EvaluationRecord(
                    task_id=task_id,
                    space_id=space.space_id,
                    config=config,
                    config_hash=config_hash(config),
                    score=score + float(rng.normal(0.0, 0.01)),
                    status=RecordStatus.OK,
                    fit_seconds=0.05 * float(config["n_estimators"]) ** 0.5,
                )
            )
    with RecordStore.open(url) as store:
        store.add_all(tasks=tasks, spaces=[space])
        store.put_task_features(features)
        store.add_records(records)


def prepare_model(
    model: Path | None, db: str | None, query: Mapping[str, float], tmp: Path
) -> tuple[Path, str]:
    """The bundle to serve and the database the server opens: given, trained or synthetic."""
    if model is not None:
        if db is None:  # `warmstart serve` creates no database: make an empty one
            db = f"sqlite:///{tmp / 'serve.db'}"
            RecordStore.open(db).close()
        return model, db
    if db is None:
        db = f"sqlite:///{tmp / 'synthetic.db'}"
        print("no --model or --db: training on a synthetic store (40 tasks x 60 configs)")
        _synthetic_store(db, query, n_tasks=40, n_configs=60)
        params = SurrogateParams(n_models=5, n_estimators=100, min_child_samples=5)
    else:
        print(f"no --model: training a lightgbm bundle on {db} (the database is only read)")
        params = SurrogateParams()  # what `warmstart train` uses by default
    start = time.perf_counter()
    with RecordStore.open(db, create=False) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # features NaN on every task
        bundle = train_bundle(store, "lightgbm", FEATURE_VERSION, TrainSettings(surrogate=params))
    path = tmp / f"{bundle.version}.wsb"
    bundle.save(path)
    print(f"trained {bundle.version} in {time.perf_counter() - start:.1f} s")
    return path, db


# -- the server --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_servers(
    model: Path, db: str, log_level: str, log: IO[str], count: int = 1
) -> Iterator[tuple[str, list[int], list[int]]]:
    """``count`` ``warmstart serve`` child processes on one free port; yields it, their pids
    and their Prometheus ports.

    One server listens on a port of its own choosing; several share a free port with
    ``--reuse-port``, the kernel spreading the client's connections over them.
    """
    port = _free_port() if count > 1 else 0
    metrics_ports = [_free_port() for _ in range(count)]
    env = {**os.environ, "WARMSTART_HOME": str(Path(log.name).parent / "home")}
    children: list[subprocess.Popen[str]] = []
    try:
        address = ""
        for metrics_port in metrics_ports:
            command = [
                sys.executable, "-m", "warmstart.service.cli", "serve", "--host", "127.0.0.1",
                "--port", str(port), "--model", str(model), "--db", db, "--watch-seconds", "0",
                "--log-level", log_level, "--metrics-port", str(metrics_port),
                *(["--reuse-port"] if count > 1 else []),
            ]  # fmt: skip
            child = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )
            children.append(child)
            address = _address(child, log)
        yield address, [child.pid for child in children], metrics_ports
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _address(child: subprocess.Popen[str], log: IO[str]) -> str:
    if child.stdout is None:
        raise RuntimeError("the server's stdout is not piped")
    deadline = time.monotonic() + 120
    seen = []
    while time.monotonic() < deadline and child.poll() is None:
        ready, _, _ = select.select([child.stdout], [], [], 1.0)
        if not ready:
            continue
        line = child.stdout.readline()
        seen.append(line)
        found = _LISTENING.search(line)
        if found:
            return f"{found.group(1)}:{found.group(2)}"
    log.flush()
    tail = Path(log.name).read_text()[-2000:]
    raise RuntimeError(f"warmstart serve did not start:\n{''.join(seen)}{tail}")


# -- the load ----------------------------------------------------------------------------------


def _channels(address: str, n: int) -> list[aio.Channel]:
    # A local subchannel pool gives each channel its own connection (HTTP/2 stream limits,
    # and the server sees several clients as it would in production).
    return [
        aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(n)
    ]


def _cpu_seconds(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def _batches(metrics_ports: Sequence[int]) -> tuple[float, float]:
    """The servers' SuggestConfigs batches so far: calls answered in them, and passes."""
    calls = passes = 0.0
    for port in metrics_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as page:
            text = page.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "warmstart_suggest_batch_size":
                for sample in family.samples:
                    if sample.name.endswith("_sum"):
                        calls += sample.value
                    elif sample.name.endswith("_count"):
                        passes += sample.value
    return calls, passes


@dataclass
class _Window:
    """The raw figures of one measured window of one RPC."""

    latencies: list[float]
    answered_in_window: int
    errors: int
    seconds: float
    server_cpu: float
    client_cpu: float
    batched: tuple[float, float]  # SuggestConfigs calls answered in batches, and the passes


async def _window(
    calls: Sequence[Callable[[], Awaitable[object]]],
    concurrency: int,
    duration: float,
    warmup: float,
    server_pids: Sequence[int],
    metrics_ports: Sequence[int],
) -> _Window:
    """Closed-loop load at one concurrency: warm-up, then ``duration`` seconds measured."""
    latencies: list[float] = []
    ends: list[float] = []
    errors = 0
    measuring = False

    async def caller(call: Callable[[], Awaitable[object]], until: float) -> None:
        nonlocal errors
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                await call()
            except grpc.aio.AioRpcError:
                if measuring:
                    errors += 1
                continue
            if measuring:
                end = time.perf_counter()
                latencies.append(end - start)
                ends.append(end)

    if warmup > 0:
        until = time.perf_counter() + warmup
        await asyncio.gather(*(caller(calls[i % len(calls)], until) for i in range(concurrency)))
    measuring = True
    batched = _batches(metrics_ports)
    cpu = _cpu_seconds(server_pids)
    client_cpu = time.process_time()
    start = time.perf_counter()
    until = start + duration
    await asyncio.gather(*(caller(calls[i % len(calls)], until) for i in range(concurrency)))
    client_cpu = time.process_time() - client_cpu
    cpu = _cpu_seconds(server_pids) - cpu
    after = _batches(metrics_ports)
    batched = (after[0] - batched[0], after[1] - batched[1])
    answered = sum(1 for end in ends if end <= until)
    return _Window(latencies, answered, errors, duration, cpu, client_cpu, batched)


def _level(rpc: str, concurrency: int, windows: Sequence[_Window]) -> Level:
    """One RPC's windows at one concurrency, pooled."""
    latencies = [x for w in windows for x in w.latencies]
    ms = np.array(latencies) * 1000 if latencies else np.array([math.nan])
    cpu = sum(w.server_cpu for w in windows)
    client_cpu = sum(w.client_cpu for w in windows)
    batched, passes = (sum(w.batched[i] for w in windows) for i in (0, 1))
    return Level(
        rpc,
        concurrency,
        len(latencies),
        sum(w.answered_in_window for w in windows),
        sum(w.errors for w in windows),
        sum(w.seconds for w in windows),
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 99)),
        cpu * 1000 / len(latencies) if latencies else math.nan,
        client_cpu * 1000 / len(latencies) if latencies else math.nan,
        batched / passes if passes else math.nan,
    )


def _request(query: Mapping[str, float], space: str, k: int) -> pb.SuggestConfigsRequest:
    request = pb.SuggestConfigsRequest(space=space, k=k)
    request.features.feature_version = FEATURE_VERSION
    request.features.features.extend(
        pb.MetaFeature(name=name, value=value) for name, value in query.items()
    )
    return request


async def measure(
    address: str,
    server_pids: Sequence[int],
    metrics_ports: Sequence[int],
    request: pb.SuggestConfigsRequest,
    args: argparse.Namespace,
) -> tuple[list[Level], bool]:
    """Every level of both RPCs; also whether the task was out of distribution."""
    channels = _channels(address, args.channels)
    try:
        health = [health_pb2_grpc.HealthStub(c) for c in channels]
        stubs = [pb_grpc.WarmstartStub(c) for c in channels]
        check = health_pb2.HealthCheckRequest(service=SERVICE)
        answer = await health[0].Check(check, timeout=30, wait_for_ready=True)
        if answer.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"{SERVICE} is not SERVING: {answer}")
        first = await stubs[0].SuggestConfigs(request, timeout=60)
        if len(first.suggestions) != request.k:
            raise RuntimeError(f"asked for {request.k} configs, got {len(first.suggestions)}")
        rpcs = {
            "SuggestConfigs": [(lambda s=s: s.SuggestConfigs(request, timeout=60)) for s in stubs],
            "Check": [(lambda h=h: h.Check(check, timeout=60)) for h in health],
        }
        levels = []
        seconds = args.duration / args.rounds
        for concurrency in args.concurrency:
            # The two RPCs take turns, window by window, so a machine whose speed drifts
            # (a shared host) slows both alike and their ratio stays fair.
            windows: dict[str, list[_Window]] = {rpc: [] for rpc in rpcs}
            for _ in range(args.rounds):
                for rpc, calls in rpcs.items():
                    windows[rpc].append(
                        await _window(
                            calls, concurrency, seconds, args.warmup, server_pids, metrics_ports
                        )
                    )
            for rpc in rpcs:
                levels.append(_level(rpc, concurrency, windows[rpc]))
                print(_row(levels[-1]), flush=True)
        return levels, first.out_of_distribution
    finally:
        for channel in channels:
            await channel.close()


# -- the report --------------------------------------------------------------------------------

_HEADER = (
    f"{'rpc':<15}{'concurrency':>12}{'calls':>9}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    f"{'server CPU ms/call':>20}{'client CPU':>12}{'batch':>7}{'errors':>8}"
)


def _row(level: Level) -> str:
    return (
        f"{level.rpc:<15}{level.concurrency:>12}{level.calls:>9}{level.rate:>10.1f}"
        f"{level.p50_ms:>9.1f}{level.p99_ms:>9.1f}{level.server_cpu_ms:>20.2f}"
        f"{level.client_cpu_ms:>12.2f}"
        f"{'' if math.isnan(level.mean_batch) else f'{level.mean_batch:.1f}':>7}{level.errors:>8}"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ratios(levels: Sequence[Level]) -> dict[int, float]:
    """SuggestConfigs calls/s over Check calls/s, by the concurrencies both were run at."""
    suggest = {lv.concurrency: lv.rate for lv in levels if lv.rpc == "SuggestConfigs"}
    check = {lv.concurrency: lv.rate for lv in levels if lv.rpc == "Check"}
    return {
        c: suggest[c] / check[c] if check[c] else 0.0 for c in sorted(set(suggest) & set(check))
    }


def print_targets(levels: list[Level]) -> None:
    """The figures next to their targets."""
    suggest = {lv.concurrency: lv for lv in levels if lv.rpc == "SuggestConfigs"}
    print("\ntargets")
    if 16 in suggest:
        p99 = suggest[16].p99_ms
        print(
            f"  SuggestConfigs p99 at concurrency 16: {p99:.1f} ms "
            f"(target < {P99_TARGET_MS:.0f} ms): {_verdict(p99 < P99_TARGET_MS)}"
        )
    for concurrency, ratio in ratios(levels).items():
        print(
            f"  calls/s SuggestConfigs / Check at concurrency {concurrency}: {ratio:.1%} "
            f"(target >= {RATIO_TARGET:.0%}): {_verdict(ratio >= RATIO_TARGET)}"
        )


def plot_levels(levels: Sequence[Level], path: Path, *, title: str) -> None:
    """calls/s of each RPC by concurrency, and their ratio against the target, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_rpc: dict[str, dict[int, Level]] = {}
    for level in levels:
        by_rpc.setdefault(level.rpc, {})[level.concurrency] = level
    figure, (rate_axis, ratio_axis) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=120)
    for rpc, found in by_rpc.items():
        xs = sorted(found)
        rate_axis.plot(xs, [found[x].rate for x in xs], marker="o", label=rpc)
    rate_axis.set_xscale("log", base=2)
    rate_axis.set_xlabel("concurrent callers")
    rate_axis.set_ylabel("calls/s")
    rate_axis.set_ylim(bottom=0)
    rate_axis.legend(fontsize=8)
    shared = ratios(levels)
    xs, shares = list(shared), [100 * ratio for ratio in shared.values()]
    ratio_axis.plot(xs, shares, marker="o", color="C2", label="SuggestConfigs / Check")
    for x, share in zip(xs, shares, strict=True):
        ratio_axis.annotate(f"{share:.1f}%", (x, share), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8)  # fmt: skip
    ratio_axis.axhline(100 * RATIO_TARGET, color="C3", linestyle="--", label="target")
    ratio_axis.set_xscale("log", base=2)
    ratio_axis.set_xlabel("concurrent callers")
    ratio_axis.set_ylabel("% of the Check's calls/s")
    ratio_axis.set_ylim(0, max([*shares, 100 * RATIO_TARGET]) * 1.3)
    ratio_axis.legend(fontsize=8, loc="lower right")
    for axis in (rate_axis, ratio_axis):
        axis.set_xticks(xs, [str(x) for x in xs])
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"give a positive integer, got {text!r}")
    return value


def _concurrency(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"give positive integers such as 1,16,64, got {text!r}")
    return levels


def main() -> None:
    """Start the server, load it level by level, print the table and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="bundle to serve (default: train one)")
    parser.add_argument("--db", help="database URL or SQLite path (train on it / serve it)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per level and RPC"
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=5,
        help="windows per level and RPC, the RPCs alternating",
    )
    parser.add_argument(
        "--warmup", type=float, default=0.5, help="unmeasured seconds before each window"
    )
    parser.add_argument("--concurrency", type=_concurrency, default=[1, 16, 64])
    parser.add_argument("--channels", type=int, default=4, help="client channels (connections)")
    parser.add_argument("--k", type=int, default=10, help="configs per SuggestConfigs call")
    parser.add_argument("--task", default="breast_cancer", choices=sorted(SKLEARN_DATASETS))
    parser.add_argument("--log-level", default="info", help="the server's log level")
    parser.add_argument(
        "--servers", type=int, default=1, help="server processes sharing the port (--reuse-port)"
    )
    parser.add_argument("--plot", type=Path, help="also draw the figures to this PNG file")
    args = parser.parse_args()
    if args.db and "://" not in args.db:
        args.db = f"sqlite:///{Path(args.db).expanduser().resolve()}"

    query, about = query_task(args.task)
    with tempfile.TemporaryDirectory(prefix="warmstart-load-") as folder:
        tmp = Path(folder)
        model, db = prepare_model(args.model, args.db, query, tmp)
        bundle = load_bundle(model, feature_version=FEATURE_VERSION)
        request = _request(query, bundle.space.name, args.k)
        with (
            (tmp / "serve.log").open("w") as log,
            running_servers(model, db, args.log_level, log, args.servers) as (
                address,
                pids,
                metrics_ports,
            ),
        ):
            load = os.getloadavg()
            print(
                f"server: {len(pids)} x warmstart serve (pid {', '.join(map(str, pids))}) on "
                f"{address}{' with --reuse-port' if len(pids) > 1 else ''}, plaintext, "
                f"access logs at "
                f"{args.log_level}\nmodel: {bundle.version} ({bundle.space.name}, "
                f"{len(bundle.surrogate.members)} ensemble members, "
                f"{bundle.training.get('tasks')} training tasks)\n"
                f"task: {about}, meta-features {FEATURE_VERSION}, k={args.k}\n"
                f"client: grpc.aio in one process, {args.channels} channels, closed loop, "
                f"{args.duration:g} s per level and RPC in {args.rounds} windows taking "
                f"turns with the other RPC's, each after {args.warmup:g} s warm-up\n"
                f"machine: {os.cpu_count()} CPUs shared by client and server, load average "
                f"{load[0]:.2f} before the run\n"
            )
            print(_HEADER)
            levels, out_of_distribution = asyncio.run(
                measure(address, pids, metrics_ports, request, args)
            )
    if out_of_distribution:
        print("note: the task was out of distribution (only robust candidates were scored)")
    print_targets(levels)
    if args.plot is not None:
        servers = f"{args.servers} server processes" if args.servers > 1 else "one server process"
        plot_levels(
            levels,
            args.plot,
            title=f"{bundle.version}, k={args.k}, {servers}, {os.cpu_count()} CPUs "
            f"shared with the client, {time.strftime('%Y-%m-%d %H:%MZ', time.gmtime())}",
        )
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
