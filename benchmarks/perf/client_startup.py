"""What the client side costs to start: importing the client, and ``warmstart suggest``.

Usage:
    python -m warmstart.benchmarks.perf.client_startup [--repeats 5]
        [--server HOST:PORT --data TABLE --target COLUMN [--space lightgbm]]

Each row runs in a fresh process ``--repeats`` times; the best and the median wall time
are printed, then, from one more run under ``python -X importtime``, the seconds spent
importing (the sum of the top-level modules' cumulative times) and which of :data:`HEAVY`
were loaded. The rows:

- ``import client``: ``import warmstart.service.client``;
- ``import suggest command``: the ``warmstart suggest`` command's module, everything it
  loads before it connects;
- ``suggest --help``: ``warmstart suggest --help``;
- ``suggest``: with ``--server``, a real ``warmstart suggest --json`` of the table against
  that server (start-up, the table read, its meta-features computed here, two calls).

The service is not imported here (benchmarks do not import it): everything runs in
child processes.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

# What the server side loads and a client should not: each costs 0.1 to 1 s to import.
HEAVY = (
    "lightgbm",
    "numba",
    "sqlalchemy",
    "sklearn",
    "ConfigSpace",
    "torch",
    "grpc_reflection.v1alpha",
    "warmstart.service.server",
    "warmstart.metamodel.store",
)


@dataclass(frozen=True)
class Row:
    """One measured start-up: a name and the Python arguments that run it."""

    name: str
    args: tuple[str, ...]


def _cli(*args: str) -> tuple[str, ...]:
    return ("-m", "warmstart.service.cli", *args)


def rows(server: str | None, data: str | None, target: str, space: str) -> list[Row]:
    """The rows measured; the real suggest only with a server and a table."""
    out = [
        Row("import client", ("-c", "import warmstart.service.client")),
        Row("import suggest command", ("-c", "import warmstart.service.cli._suggest")),
        Row("suggest --help", _cli("suggest", "--help")),
    ]
    if server is not None and data is not None:
        real = ("suggest", "--server", server, "--data", data, "--target", target)
        out.append(Row("suggest", _cli(*real, "--space", space, "-k", "5", "--json")))
    return out


def run_once(args: Sequence[str]) -> float:
    """Wall seconds of one ``python ARGS``; fails on a non-zero exit."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, timeout=600
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"python {shlex.join(args)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def import_profile(args: Sequence[str]) -> tuple[float, list[str]]:
    """Seconds spent importing in one ``python -X importtime ARGS``, and which of
    :data:`HEAVY` it imported, in the order it imported them."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    total_us, found = 0, []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue  # the header line
        if not name.startswith("  "):  # one space after the bar: a top-level import
            total_us += int(cumulative)
        name = name.strip()
        if name in HEAVY and name not in found:
            found.append(name)
    return total_us / 1e6, found


def main(argv: Sequence[str] | None = None) -> None:
    """Time each row and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--server", help="HOST:PORT of a running server: adds a real suggest.")
    parser.add_argument("--data", help="The table the real suggest describes (with --server).")
    parser.add_argument("--target", default="target", help="Its target column.")
    parser.add_argument("--space", default="lightgbm", help="The space asked for.")
    options = parser.parse_args(argv)
    if options.repeats < 1:
        parser.error(f"--repeats takes a positive integer, got {options.repeats}")
    if (options.server is None) != (options.data is None):
        parser.error("--server and --data go together: a real suggest needs both")
    print(f"fresh processes, best and median of {options.repeats} runs; imports: one run")
    print(f"{'ROW':<24} {'best s':>7} {'median s':>9} {'imports s':>10}  heavy modules imported")
    for row in rows(options.server, options.data, options.target, options.space):
        times = [run_once(row.args) for _ in range(options.repeats)]
        imports, heavy = import_profile(row.args)
        print(
            f"{row.name:<24} {min(times):>7.2f} {statistics.median(times):>9.2f} "
            f"{imports:>10.2f}  {', '.join(heavy) or 'none'}"
        )


if __name__ == "__main__":
    main()
