"""The client start-up script runs its rows in fresh processes: a smoke test, nothing timed."""

from __future__ import annotations

import re
import subprocess
import sys


def _startup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.client_startup", "--repeats", "1", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_client_startup_prints_each_row_with_its_times_and_the_heavy_modules() -> None:
    done = _startup()
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"^(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)  (.+)$", done.stdout, re.M)
    assert [row[0] for row in rows] == ["import client", "import suggest command", "suggest --help"]
    assert all(float(row[3]) > 0 for row in rows)  # the import profile was read
    assert [row[4] for row in rows] == ["none", "none", "none"]


def test_a_real_suggest_needs_both_a_server_and_a_table() -> None:
    done = _startup("--server", "127.0.0.1:1")
    assert done.returncode == 2
    assert "--server and --data go together" in done.stderr
