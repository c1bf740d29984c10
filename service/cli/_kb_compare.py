"""``warmstart kb compare``: a rebuilt knowledge base against another, record by record.

Registered on the ``kb`` command group of :mod:`warmstart.service.cli._kb`; the
comparison is :func:`warmstart.benchmarks.kb.compare_records`, which says how
records are matched and when a pair counts as the same.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warmstart.benchmarks.kb import compare_records, default_kb_dir
from warmstart.service.cli._common import console, err_console, handle_errors
from warmstart.service.cli._kb import EXIT_CHANGED, app

__all__ = ["compare"]


def _shown(side: tuple[str, float] | None) -> str:
    if side is None:
        return "absent"
    status, score = side
    return status if math.isnan(score) else f"{status} {score:.10g}"


def _hash_check(hashes: tuple[str | None, str | None]) -> str:
    if hashes[0] is None or hashes[1] is None:
        return "-"
    same = "same" if hashes[0] == hashes[1] else "differs"
    return f"{same} ({hashes[0][:8]} / {hashes[1][:8]})"


@app.command()
@handle_errors
def compare(
    other: Annotated[
        Path, typer.Argument(help="The folder to check, e.g. a rebuild's kb build --out.")
    ],
    kb: Annotated[
        Path | None,
        typer.Option(help="Reference knowledge-base folder (default: kb/ of the source tree)."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            help="Largest score difference still counted as the same, relative to the larger "
            "score (absolute below 1); 0: equal."
        ),
    ] = 0.0,
    show: Annotated[int, typer.Option(min=0, help="Differing records listed per space.")] = 10,
    only_its_tasks: Annotated[
        bool,
        typer.Option(
            "--only-its-tasks",
            help="Compare only the tasks OTHER has records of, space by space (a rebuild of "
            "part of the tasks, kb build --shard); without it, a task OTHER lacks counts as "
            "records 'only here'.",
        ),
    ] = False,
) -> None:
    """Compare another knowledge base's records with this one's, space by space.

    Records are matched by task, config and seed; a pair is the same when status and
    score are (scores within --tolerance). Only the spaces OTHER holds are compared (a
    rebuild of some learners is checked on its own), and with --only-its-tasks only the
    tasks it holds. Exit code 1 if any record differs or lacks its partner.
    """
    reference = kb if kb is not None else default_kb_dir()
    compared = compare_records(
        reference, other, tolerance=tolerance, keep=show, only_its_tasks=only_its_tasks
    )
    results, not_compared = compared.spaces, compared.not_compared
    table = Table(
        "space", "records", "other", "not ok", "other not ok", "same", "changed",
        "only here", "only other", "largest gap", "training data hash",
        title=f"{reference} (here) against {other} (other)",
    )  # fmt: skip
    for r in results:
        table.add_row(
            r.space,
            *(f"{n:,}" for n in (r.ours, r.theirs, r.ours_not_ok, r.theirs_not_ok, r.same)),
            *(f"{n:,}" for n in (r.changed, r.only_ours, r.only_theirs)),
            f"{r.largest_gap:.2g}",
            _hash_check(r.data_hashes),
        )
    console.print(table)
    if not_compared:
        console.print(f"not in {other}, not compared: {', '.join(not_compared)}", markup=False)
    differing = compared.differing
    for r in differing:
        listed = Table("task", "config", "seed", "here", "other", title=f"{r.space}: differing")
        for d in r.differences:
            listed.add_row(d.task_name, d.config_hash[:12], str(d.seed), _shown(d.ours),
                           _shown(d.theirs))  # fmt: skip
        if r.differences:
            console.print(listed)
    if differing:
        err_console.print(
            f"{len(differing)} of {len(results)} spaces differ: "
            + ", ".join(
                f"{r.space} ({r.changed + r.only_ours + r.only_theirs:,} records)"
                for r in differing
            ),
            markup=False,
        )
        raise typer.Exit(EXIT_CHANGED)
    console.print(f"all {compared.same:,} records of {len(results)} spaces are the same")
