"""The load script runs end to end: servers start, both RPCs are measured, targets are printed.

A smoke test, not a measurement: a short run on the synthetic model, nothing timed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("servers", [1, 2])
def test_suggest_load_measures_both_rpcs(servers: int, tmp_path: Path) -> None:
    plot = tmp_path / "load.png"
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.suggest_load", "--duration", "0.6",
         "--rounds", "2", "--warmup", "0.1", "--concurrency", "1,4", "--servers", str(servers),
         "--log-level", "warning", "--plot", str(plot)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert f"server: {servers} x warmstart serve" in out
    rows = re.findall(r"^(SuggestConfigs|Check)\s+(\d+)\s+(\d+)\s+[\d.]+.*\s(\d+)$", out, re.M)
    # Level by level, both RPCs (their windows took turns).
    assert [(rpc, int(c)) for rpc, c, _, _ in rows] == [
        ("SuggestConfigs", 1), ("Check", 1), ("SuggestConfigs", 4), ("Check", 4)
    ]  # fmt: skip
    assert all(int(calls) > 0 and int(errors) == 0 for _, _, calls, errors in rows)
    assert "calls/s SuggestConfigs / Check at concurrency 4" in out
    assert f"plot: {plot}" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Every row gives the server's and the client's CPU per call; SuggestConfigs rows also
    # how many calls the servers answered per pass (>= 1).
    row = r"^(?:SuggestConfigs|Check)(?:\s+[\d.]+){5}\s+([\d.]+)\s+([\d.]+)\s"
    cpu = re.findall(row, out, re.M)
    assert len(cpu) == 4
    assert all(float(server) > 0 and float(client) > 0 for server, client in cpu)
    batches = re.findall(r"^SuggestConfigs(?:\s+[\d.]+){7}\s+([\d.]+)\s+\d+$", out, re.M)
    assert len(batches) == 2
    assert all(float(b) >= 1.0 for b in batches)
