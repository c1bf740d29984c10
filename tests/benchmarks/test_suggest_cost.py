"""The in-process suggestion cost script runs on the shipped bundle: a smoke test, nothing timed."""

from __future__ import annotations

import re
import subprocess
import sys


def test_suggest_cost_prints_a_cost_per_batch_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.suggest_cost", "--tasks", "6",
         "--batches",
         "1,3", "--repeats", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(lightgbm), 6 tasks, k=10" in done.stdout
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)$", done.stdout, re.M)
    assert [int(batch) for batch, _ in rows] == [1, 3]
    assert all(float(ms) > 0 for _, ms in rows)


def test_suggest_cost_refuses_a_bad_batch_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.suggest_cost", "--batches", "0"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--batches, --repeats and --tasks take positive integers" in done.stderr
