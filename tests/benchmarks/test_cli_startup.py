"""The CLI start-up script times commands in fresh processes: a smoke test, nothing timed."""

from __future__ import annotations

import re
import subprocess
import sys


def _startup(*commands: str) -> subprocess.CompletedProcess[str]:
    """Run the script once per command, one repeat each."""
    args = [f"--command={command}" for command in commands]
    return subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.cli_startup", "--repeats", "1", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_startup_prints_a_row_per_command_with_the_libraries_it_loaded() -> None:
    done = _startup("--help", "bench --help")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"^(.+?)\s+([\d.]+)\s+([\d.]+)  (.+)$", done.stdout, re.M)
    assert [row[0] for row in rows] == ["--help", "bench --help"]
    assert rows[0][3] == "none"
    assert "ConfigSpace" in rows[1][3]


def test_cli_startup_reports_a_failing_command() -> None:
    done = _startup("no-such-command")
    assert done.returncode == 1
    assert "warmstart no-such-command exited 2" in done.stderr
