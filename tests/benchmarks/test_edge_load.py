"""The edge load script runs end to end: heavy and light clients, statuses, memory, targets.

A smoke test, not a measurement: a short, small run on the synthetic model, nothing timed.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_edge_load_reports_latencies_statuses_memory_and_targets() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.edge_load", "--duration", "1",
         "--heavy", "2",
         "--light", "4", "--exclude", "200", "--describe-mb", "1", "--budget-mb", "2",
         "--upload-rate-mb", "32", "--retry-after", "0.5"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"^server: warmstart serve .* --upload-rate-mb 32\.0$", out, re.M)
    # A heavy client whose upload is refused backs off, as the refusal asks.
    assert re.search(r"^load: .* a client whose upload is refused waits 0\.5 s", out, re.M)
    rows = {
        (rpc, client): int(calls)
        for rpc, client, calls in re.findall(r"^(\w+)\s+(light|heavy)\s+(\d+)\s", out, re.M)
    }
    # Every upload may be refused on a slow host (the budget is full): DescribeTask then
    # has statuses but no latencies.
    assert {("Check", "light"), ("SuggestConfigs", "light"), ("SuggestConfigs", "heavy")} <= set(
        rows
    )
    assert all(calls > 0 for calls in rows.values())
    statuses = re.findall(r"^  (\w+)\s+([A-Z_]+)\s+(\d+)\s+(\d+)(.*)$", out, re.M)
    assert ("Check", "OK") in {(rpc, code) for rpc, code, *_ in statuses}
    assert "DescribeTask" in {rpc for rpc, *_ in statuses}
    assert "NOT a documented refusal" not in out
    memory = r"^server RSS: \d+ MiB before the load, peak \d+ MiB \(bound \d+ MiB\)"
    assert re.search(memory, out, re.M)
    for target in ("health Check p99", "small SuggestConfigs p99", "server peak RSS"):
        assert re.search(rf"^  {target}.*: (met|MISSED)$", out, re.M), target
    assert "statuses other than OK and documented refusals: 0: met" in out
