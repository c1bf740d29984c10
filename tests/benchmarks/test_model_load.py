"""The bundle load-cost script runs on a shipped bundle: a smoke test, nothing timed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

SHIPPED = Path(__file__).parents[2] / "kb" / "models" / "svm.wsb"


def test_model_load_prints_each_bundles_steps(tmp_path: Path) -> None:
    shutil.copy(SHIPPED, tmp_path / "svm.wsb")
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.model_load", "--models", str(tmp_path),
         "--repeats", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(
        r"^svm\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", done.stdout, re.M
    )
    assert len(rows) == 1
    trees, *seconds = rows[0]
    assert int(trees) > 0
    assert all(float(s) >= 0 for s in seconds)


def test_model_load_refuses_a_folder_without_bundles(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.benchmarks.perf.model_load", "--models", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2
    assert "holds no .wsb bundles" in done.stderr
