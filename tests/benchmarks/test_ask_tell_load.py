"""benchmarks.perf.ask_tell_load: ask/tell loops of several clients against one server."""

from __future__ import annotations

import subprocess
import sys


def test_every_report_is_stored_once_and_every_answer_uses_them() -> None:
    """On a fresh database: the served space takes results, each loop's answers count
    every earlier report as an observation and repeat no tried config."""
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.ask_tell_load",
         "--clients", "2", "--trials", "3"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors: []" in done.stdout
    assert "tasks_with_all_results: 2" in done.stdout
    assert "stored_per_task: [3]" in done.stdout
    assert "OK: every report stored once, no error" in done.stdout
    checks = next(line for line in done.stdout.splitlines() if line.startswith("checks: "))
    assert int(checks.split(": ")[1]) > 0  # health Checks were answered beside the loops
