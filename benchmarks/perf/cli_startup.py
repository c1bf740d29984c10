"""Wall time of ``warmstart`` commands that do almost nothing: what start-up costs.

Usage:
    python -m warmstart.benchmarks.perf.cli_startup [--repeats 5]
        [--command=--help --command="db --help" ...]

Each command line runs as ``python -m warmstart.service.cli ARGS`` in a fresh process,
``--repeats`` times; the best and the median wall time are printed with the
libraries the command imported (of ConfigSpace, scikit-learn, LightGBM, pandas,
PyTorch, gRPC), found with ``python -X importtime`` in one more run. Commands
that must load a library to do their work show it here; ``--help`` should load
none of them.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

DEFAULT_COMMANDS = (
    "--help",
    "db --help",
    "records --help",
    "kb --help",
    "model --help",
    "bench --help",
    "serve --help",
)
# Top-level packages worth naming: each costs a few hundred milliseconds to import here.
HEAVY = ("ConfigSpace", "sklearn", "lightgbm", "pandas", "torch", "grpc", "scipy")


def run_once(args: Sequence[str]) -> float:
    """Wall seconds of one ``python -m warmstart.service.cli ARGS``; fails on a non-zero exit."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "warmstart.service.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"warmstart {shlex.join(args)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def heavy_imports(args: Sequence[str]) -> list[str]:
    """Which of :data:`HEAVY` the command imports, in the order it imported them."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "warmstart.service.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    found: list[str] = []
    for line in done.stderr.splitlines():
        name = line.rpartition("|")[2].strip()
        if name in HEAVY and name not in found:
            found.append(name)
    return found


def main(argv: Sequence[str] | None = None) -> None:
    """Time each command and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--command",
        action="append",
        dest="commands",
        help="Arguments after `warmstart`, as --command='db --help' (repeatable; default: a "
        "set of --help calls).",
    )
    options = parser.parse_args(argv)
    if options.repeats < 1:
        parser.error(f"--repeats takes a positive integer, got {options.repeats}")
    commands = options.commands or list(DEFAULT_COMMANDS)
    print(f"python -m warmstart.service.cli ARGS, best and median of {options.repeats} runs")
    print(f"{'ARGS':<24} {'best s':>7} {'median s':>9}  heavy libraries imported")
    for line in commands:
        args = shlex.split(line)
        times = [run_once(args) for _ in range(options.repeats)]
        libraries = ", ".join(heavy_imports(args)) or "none"
        print(f"{line:<24} {min(times):>7.2f} {statistics.median(times):>9.2f}  {libraries}")


if __name__ == "__main__":
    main()
