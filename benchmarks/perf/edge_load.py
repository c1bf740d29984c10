"""Health checks and small SuggestConfigs while other clients send the largest requests allowed.

Usage:
    python -m warmstart.benchmarks.perf.edge_load [--model BUNDLE.wsb] [--db URL] [--duration 3]
        [--heavy 4] [--light 16] [--exclude 1000] [--describe-mb 2] [--budget-mb 4]
        [--upload-rate-mb N] [--retry-after 1] [--rss-bound-mb N] [--log-level warning]

The server is ``warmstart serve`` in a child process on a free loopback port, with
``--max-describe-mb`` set to the upload size and ``--describe-budget-mb`` to the budget,
and ``--upload-rate-mb`` when given (else the server's default, 64 MiB/s: the server
reads upload data no faster, over all uploads, and HTTP/2 flow control holds the senders
back, so an upload takes at least its size over that rate; 0: unpaced). ``--heavy``
clients each alternate the largest requests the server takes: SuggestConfigs excluding
``--exclude`` configs (1,000 is the limit) and DescribeTask uploads of ``--describe-mb``
MiB (an Arrow stream of random floats, in 1 MiB chunks). Meanwhile ``--light`` clients
each alternate a SuggestConfigs from meta-features and a health Check. Every client
sends its next call when the last is answered, for ``--duration`` seconds. The server's
resident memory is sampled every 10 ms.

Printed: latency percentiles by RPC and kind of client, the count of every status code,
the server's peak RSS against ``--rss-bound-mb`` (by default: its RSS before the load,
plus 3 times the upload budget, plus 256 MiB), and the targets: health Check p99 under
50 ms, small SuggestConfigs p99 under 100 ms, no status but OK and the one documented
refusal: RESOURCE_EXHAUSTED from DescribeTask when the upload budget is full (an upload
is refused before any of it is read when the budget cannot hold the largest dataset, which
at full size, 4 uploads of 256 MiB against a 512 MiB budget, is most of them). A heavy
client whose upload is refused backs off, as the refusal asks: ``--retry-after`` seconds,
doubled after each refusal in a row up to 8 times that, before its next call (0: at
once). Paced uploads are slower, not refused: a DescribeTask that waits on the pace is
answered OK. The client runs in this process and
competes with the server for the CPUs: the figures are a floor for the server.
"""

from __future__ import annotations

# A client of the service by nature: it imports grpc and the generated code, like
# suggest_load (pyproject.toml's import contracts make the same narrow exception).
import argparse
import asyncio
import io
import math
import multiprocessing
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import IO

import numpy as np
import psutil
import pyarrow as pa
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from warmstart.benchmarks.perf.suggest_load import prepare_model, query_task
from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.spaces import load_configspace, sample_configs
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.protos.warmstart.v1 import warmstart_pb2_grpc as pb_grpc

SERVICE = "warmstart.v1.Warmstart"
CHECK_P99_TARGET_MS = 50.0
SMALL_P99_TARGET_MS = 100.0
RSS_BUDGET_FACTOR = 3  # the default bound: RSS before the load + this x the upload budget + slack
RSS_SLACK_MIB = 256
DOCUMENTED = {("DescribeTask", "RESOURCE_EXHAUSTED")}  # the upload budget is full
_MIB = 1024 * 1024
_CHUNK = _MIB
_LISTENING = re.compile(r"warmstart listening on (\S+):(\d+)")


# -- the requests ------------------------------------------------------------------------------


def _value(value: object) -> pb.ParameterValue:
    if isinstance(value, bool):
        return pb.ParameterValue(bool_value=value)
    if isinstance(value, int):
        return pb.ParameterValue(int_value=value)
    if isinstance(value, float):
        return pb.ParameterValue(double_value=value)
    return pb.ParameterValue(string_value=str(value))


def suggest_request(
    query: Mapping[str, float], space: str, exclude: Sequence[Mapping[str, object]] = ()
) -> pb.SuggestConfigsRequest:
    """A SuggestConfigs request from meta-features, excluding ``exclude``."""
    request = pb.SuggestConfigsRequest(space=space, k=10)
    request.features.feature_version = FEATURE_VERSION
    request.features.features.extend(pb.MetaFeature(name=n, value=v) for n, v in query.items())
    request.exclude.extend(
        pb.Config(parameters={k: _value(v) for k, v in c.items()}) for c in exclude
    )
    return request


def upload_chunks(size: int, seed: int = 0) -> list[pb.DescribeTaskChunk]:
    """An Arrow IPC stream of random floats and a binary target, at most ``size`` bytes,
    as DescribeTask chunks of 1 MiB."""
    columns = 20
    rows = max(10, int(size * 0.98) // (8 * (columns + 1)))
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, columns))
    table = pa.table(
        {**{f"x{i}": values[:, i] for i in range(columns)}, "y": (values[:, 0] > 0).astype(int)}
    )
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue()
    if len(data) > size:
        raise ValueError(f"the upload came to {len(data)} bytes, over {size}")
    pieces = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)]
    first = pb.DescribeTaskChunk(
        format=pb.DescribeTaskChunk.FORMAT_ARROW_IPC, target="y", data=pieces[0]
    )
    return [first, *(pb.DescribeTaskChunk(data=p) for p in pieces[1:])]


# -- the server --------------------------------------------------------------------------------


@contextmanager
def running_server(
    model: Path, db: str, log: IO[str], flags: Sequence[str]
) -> Iterator[tuple[str, int]]:
    """``warmstart serve`` in a child process on a free loopback port; yields its address
    and pid, and stops it with SIGTERM."""
    env = {**os.environ, "WARMSTART_HOME": str(Path(log.name).parent / "home")}
    command = [
        sys.executable, "-m", "warmstart.service.cli", "serve",
        "--host", "127.0.0.1", "--port", "0",
        "--model", str(model), "--db", db, "--watch-seconds", "0", *flags,
    ]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        yield _address(child, log), child.pid
    finally:
        child.send_signal(signal.SIGTERM)
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


class PeakRss:
    """Samples a process's resident memory every 10 ms in a thread; :attr:`peak` is the most,
    :attr:`after` the last sample (:meth:`settle` takes it a while after the load)."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.before = self._process.memory_info().rss
        self.peak = self.after = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.after = self._process.memory_info().rss
            self.peak = max(self.peak, self.after)

    def settle(self, seconds: float) -> None:
        """Wait ``seconds`` (the server idle), then take the resident memory once more."""
        time.sleep(seconds)
        self.after = self._process.memory_info().rss

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Calls:
    """Latencies of answered calls and the count of every status, by (RPC, kind of client)."""

    latencies: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    details: dict[tuple[str, str], str] = field(default_factory=dict)  # the first of each

    def merge(self, other: Calls) -> None:
        """Add another set of calls to these."""
        for key, found in other.latencies.items():
            self.latencies.setdefault(key, []).extend(found)
        self.codes.update(other.codes)
        for key, text in other.details.items():
            self.details.setdefault(key, text)

    def add(self, rpc: str, client: str, code: str, seconds: float) -> None:
        """Count one call; keep its latency if it was answered."""
        self.codes[(rpc, code)] += 1
        if code == "OK":
            self.latencies.setdefault((rpc, client), []).append(seconds)


async def _timed(calls: Calls, rpc: str, client: str, call: Awaitable[object]) -> str:
    start = time.perf_counter()
    try:
        await call
        code = "OK"
    except aio.AioRpcError as exc:
        code = exc.code().name
        calls.details.setdefault((rpc, code), str(exc.details()))
    calls.add(rpc, client, code, time.perf_counter() - start)
    return code


async def warm_up(address: str, small: pb.SuggestConfigsRequest) -> None:
    """Wait until the server serves, and make the model's first (slower) call."""
    async with aio.insecure_channel(address) as channel:
        check = health_pb2.HealthCheckRequest(service=SERVICE)
        await health_pb2_grpc.HealthStub(channel).Check(check, wait_for_ready=True, timeout=60)
        await pb_grpc.WarmstartStub(channel).SuggestConfigs(small, timeout=60)


async def heavy_load(
    address: str,
    big: bytes,
    chunks: Sequence[bytes],
    clients: int,
    duration: float,
    retry_after: float = 1.0,
) -> Calls:
    """``clients`` clients alternating the largest SuggestConfigs and DescribeTask, each on
    its own connection, for ``duration`` seconds; one whose upload is refused waits
    ``retry_after`` seconds, doubled for each refusal in a row (up to 8 times), first. The
    requests go pre-serialized: encoding them on every call would cost CPU the server
    shares."""
    channels = [aio.insecure_channel(address) for _ in range(clients)]
    calls = Calls()
    until = time.perf_counter() + duration

    async def client(channel: aio.Channel) -> None:
        suggest: aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            f"/{SERVICE}/SuggestConfigs"
        )
        describe: aio.StreamUnaryMultiCallable[bytes, bytes] = channel.stream_unary(
            f"/{SERVICE}/DescribeTask"
        )
        backoff = 0.0
        while time.perf_counter() < until:
            await _timed(calls, "SuggestConfigs", "heavy", suggest(big, timeout=60))
            if chunks and time.perf_counter() < until:
                upload = describe(iter(chunks), timeout=120)
                if await _timed(calls, "DescribeTask", "heavy", upload) == "OK":
                    backoff = 0.0
                elif retry_after > 0:  # refused (a grpc.aio client may see INTERNAL)
                    backoff = min(max(2 * backoff, retry_after), 8 * retry_after)
                    await asyncio.sleep(max(0.0, min(backoff, until - time.perf_counter())))

    try:
        await asyncio.gather(*(client(c) for c in channels))
    finally:
        for channel in channels:
            await channel.close()
    return calls


async def light_load(
    address: str, small: pb.SuggestConfigsRequest, clients: int, duration: float
) -> Calls:
    """``clients`` clients alternating a small SuggestConfigs and a health Check, over four
    connections, for ``duration`` seconds."""
    channels = [aio.insecure_channel(address) for _ in range(4)]
    check = health_pb2.HealthCheckRequest(service=SERVICE)
    calls = Calls()
    until = time.perf_counter() + duration

    async def client(channel: aio.Channel) -> None:
        stub = pb_grpc.WarmstartStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        while time.perf_counter() < until:
            await _timed(calls, "SuggestConfigs", "light", stub.SuggestConfigs(small, timeout=60))
            await _timed(calls, "Check", "light", health.Check(check, timeout=60))

    try:
        await asyncio.gather(*(client(channels[i % len(channels)]) for i in range(clients)))
    finally:
        for channel in channels:
            await channel.close()
    return calls


def _heavy_process(
    address: str,
    big: bytes,
    upload_bytes: int,
    clients: int,
    duration: float,
    retry_after: float,
    ready: EventType,
    go: EventType,
    results: Connection,
) -> None:
    """The heavy clients, in a process of their own (see :func:`run_load`)."""
    chunks = [c.SerializeToString() for c in upload_chunks(upload_bytes)] if upload_bytes else []
    ready.set()
    go.wait()
    results.send(asyncio.run(heavy_load(address, big, chunks, clients, duration, retry_after)))


def run_load(
    address: str,
    small: pb.SuggestConfigsRequest,
    big: pb.SuggestConfigsRequest,
    upload_bytes: int,
    heavy: int,
    light: int,
    duration: float,
    retry_after: float = 1.0,
) -> Calls:
    """The heavy clients in a child process and the light ones in this one, together for
    ``duration`` seconds. Apart, the heavy clients' own work (sending hundreds of MiB)
    does not hold up the light clients' event loop: their latencies are the server's."""
    context = multiprocessing.get_context("spawn")
    ready, go = context.Event(), context.Event()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_heavy_process,
        args=(
            address,
            big.SerializeToString(),
            upload_bytes,
            heavy,
            duration,
            retry_after,
            ready,
            go,
            sender,
        ),
    )
    child.start()
    try:
        if not ready.wait(300):
            raise RuntimeError("the heavy clients did not get ready")
        go.set()
        calls = asyncio.run(light_load(address, small, light, duration))
        heavy_calls: Calls = receiver.recv()
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    calls.merge(heavy_calls)
    return calls


# -- the report --------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def p99_ms(calls: Calls, rpc: str, client: str) -> float:
    """The 99th percentile latency of the answered calls, ms (NaN: none answered)."""
    found = calls.latencies.get((rpc, client), [])
    return float(np.percentile(np.array(found) * 1000, 99)) if found else math.nan


def report(calls: Calls, served: Mapping[tuple[str, str], int], rss: PeakRss, bound: int) -> None:
    """Latencies, statuses (as the server answered them, and as the client saw them),
    memory and the targets.

    The two counts differ where the grpc.aio client reports a call the server refused
    mid-upload as INTERNAL "Internal error from Core" (grpc/grpc#36066: a write after
    the server's status overwrites it); the server's count decides.
    """
    print(f"{'rpc':<16}{'client':<8}{'calls':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for (rpc, client), found in sorted(calls.latencies.items()):
        ms = np.array(found) * 1000
        print(
            f"{rpc:<16}{client:<8}{len(ms):>7}{np.percentile(ms, 50):>9.1f}"
            f"{np.percentile(ms, 99):>9.1f}{ms.max():>9.1f}"
        )
    print(f"\nstatuses{'server':>34}{'client':>8}")
    undocumented = 0
    for rpc, code in sorted(set(calls.codes) | set(served)):
        # The server's count is what it answered; health checks are counted by the client.
        answered = served.get((rpc, code), 0) if rpc != "Check" else calls.codes[(rpc, code)]
        note = ""
        if code != "OK" and answered:
            documented = (rpc, code) in DOCUMENTED
            undocumented += 0 if documented else answered
            note = "  (documented refusal)" if documented else "  (NOT a documented refusal)"
        elif code != "OK":
            note = f"  (the client's: {calls.details.get((rpc, code), '')[:60]})"
        print(f"  {rpc:<16}{code:<20}{answered:>8}{calls.codes[(rpc, code)]:>8}{note}")
    peak = rss.peak
    print(
        f"\nserver RSS: {rss.before / _MIB:.0f} MiB before the load, peak {peak / _MIB:.0f} MiB "
        f"(bound {bound / _MIB:.0f} MiB): {_verdict(peak <= bound)}; "
        f"{rss.after / _MIB:.0f} MiB 2 s after it"
    )
    check, small = p99_ms(calls, "Check", "light"), p99_ms(calls, "SuggestConfigs", "light")
    print("\ntargets")
    print(
        f"  health Check p99: {check:.1f} ms (target < {CHECK_P99_TARGET_MS:.0f} ms): "
        f"{_verdict(check < CHECK_P99_TARGET_MS)}"
    )
    print(
        f"  small SuggestConfigs p99: {small:.1f} ms (target < {SMALL_P99_TARGET_MS:.0f} ms): "
        f"{_verdict(small < SMALL_P99_TARGET_MS)}"
    )
    print(
        f"  statuses other than OK and documented refusals: {undocumented}: "
        f"{_verdict(undocumented == 0)}"
    )
    print(f"  server peak RSS within the bound: {_verdict(peak <= bound)}")


def server_calls(metrics_port: int) -> Counter[tuple[str, str]]:
    """The server's ``warmstart_rpc_calls`` so far, by (RPC, status code)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=30) as page:
        text = page.read().decode()
    counts: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == "warmstart_rpc_calls":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counts[(sample.labels["rpc"], sample.labels["code"])] += int(sample.value)
    return counts


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    """Start the server, load it, print the figures and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="bundle to serve (default: train one)")
    parser.add_argument("--db", help="database URL or SQLite path (train on it / serve it)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of load")
    parser.add_argument("--heavy", type=int, default=4, help="clients of the largest requests")
    parser.add_argument("--light", type=int, default=16, help="clients of small requests")
    parser.add_argument(
        "--exclude", type=int, default=1000, help="configs each large SuggestConfigs excludes"
    )
    parser.add_argument(
        "--describe-mb",
        type=float,
        default=2.0,
        help="each upload, MiB (the server's maximum); 0: no uploads",
    )
    parser.add_argument(
        "--budget-mb", type=float, default=4.0, help="the server's DescribeTask budget, MiB"
    )
    parser.add_argument(
        "--upload-rate-mb",
        type=float,
        help="the server's --upload-rate-mb, MiB/s (default: the server's default; 0: unpaced)",
    )
    parser.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        help="seconds a heavy client waits after a refused upload, doubled per refusal in a "
        "row up to 8 times (0: at once)",
    )
    parser.add_argument("--rss-bound-mb", type=float, help="the server's RSS bound, MiB")
    parser.add_argument("--task", default="breast_cancer", help="the query task (scikit-learn)")
    parser.add_argument("--log-level", default="warning", help="the server's log level")
    parser.add_argument("--server-log", type=Path, help="keep the server's JSON log here")
    args = parser.parse_args()
    if args.db and "://" not in args.db:
        args.db = f"sqlite:///{Path(args.db).expanduser().resolve()}"

    query, about = query_task(args.task)
    with tempfile.TemporaryDirectory(prefix="warmstart-edge-") as folder:
        tmp = Path(folder)
        model, db = prepare_model(args.model, args.db, query, tmp)
        bundle = load_bundle(model, feature_version=FEATURE_VERSION)
        configs = sample_configs(load_configspace(bundle.space), args.exclude, seed=1)
        small = suggest_request(query, bundle.space.name)
        big = suggest_request(query, bundle.space.name, configs)
        upload_bytes = int(args.describe_mb * _MIB)
        chunks = upload_chunks(upload_bytes) if upload_bytes else []
        upload = sum(len(c.data) for c in chunks)
        metrics_port = _free_port()
        flags = [
            "--max-describe-mb", str(max(args.describe_mb, 1.0)), "--describe-budget-mb",
            str(max(args.budget_mb, args.describe_mb, 1.0)), "--log-level", args.log_level,
            "--metrics-port", str(metrics_port),
        ]  # fmt: skip
        if args.upload_rate_mb is not None:
            flags += ["--upload-rate-mb", str(args.upload_rate_mb)]
        with (
            (args.server_log or tmp / "serve.log").open("w") as log,
            running_server(model, db, log, flags) as (address, pid),
            PeakRss(pid) as rss,
        ):
            bound = int(
                args.rss_bound_mb * _MIB
                if args.rss_bound_mb
                else rss.before + RSS_BUDGET_FACTOR * args.budget_mb * _MIB + RSS_SLACK_MIB * _MIB
            )
            print(
                f"server: warmstart serve (pid {pid}) on {address}, {' '.join(flags)}\n"
                f"model: {bundle.version} ({bundle.space.name}); task: {about}\n"
                f"load: {args.heavy} heavy clients alternating SuggestConfigs excluding "
                f"{len(big.exclude)} configs ({big.ByteSize() / 1024:.0f} KiB) and DescribeTask "
                f"uploads of {upload / _MIB:.1f} MiB in {len(chunks)} chunks; {args.light} light "
                f"clients alternating SuggestConfigs from meta-features and health Check; "
                f"{args.duration:g} s; a client whose upload is refused waits "
                f"{args.retry_after:g} s (doubling) first\n"
                f"machine: {os.cpu_count()} CPUs shared by client and server, load average "
                f"{os.getloadavg()[0]:.2f} before the run\n"
            )
            asyncio.run(warm_up(address, small))
            before = server_calls(metrics_port)
            calls = run_load(
                address,
                small,
                big,
                upload_bytes,
                args.heavy,
                args.light,
                args.duration,
                args.retry_after,
            )
            served = server_calls(metrics_port)
            served.subtract(before)
            rss.settle(2.0)
    report(calls, served, rss, bound)


if __name__ == "__main__":
    main()
