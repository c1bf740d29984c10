"""``warmstart kb build | info``: rebuild the shipped knowledge base from the datasets; show it.

The work is :mod:`warmstart.benchmarks.kb`; this module parses the options,
calls it and prints what it reports. ``kb compare`` is in
:mod:`warmstart.service.cli._kb_compare`.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warmstart.benchmarks.kb import (
    KB_PLAN,
    KB_PROVENANCE,
    KB_RECORDS,
    BuildObserver,
    KbBuild,
    KbBuildRequest,
    KbPlan,
    SpaceBuilt,
    default_kb_dir,
    kb_info,
    load_kb_plan,
    resolve_out_dir,
    split_suite_options,
)
from warmstart.benchmarks.runner import (
    RunSummary,
    parse_shard,
    resolve_workers,
    sigterm_as_interrupt,
)
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.service.cli._common import (
    DbOption,
    console,
    csv_items,
    err_console,
    handle_errors,
    open_store,
)
from warmstart.service.cli._run_display import RunDisplay

__all__ = ["EXIT_CHANGED", "app", "build", "info"]

app = typer.Typer(
    help="The knowledge base (kb/): rebuild it from the datasets, or show what it holds.",
    no_args_is_help=True,
)

EXIT_CHANGED = 1
EXIT_INTERRUPTED = 130


class _BuildDisplay(RunDisplay, BuildObserver):
    """Prints a build's steps, each step's run (as `bench run` does), and its stages."""

    def __init__(self, shard: tuple[int, int] | None) -> None:
        super().__init__()
        self.shard = shard
        self._index = 0

    def step(self, index: int, plan: KbPlan, learners: tuple[str, ...]) -> None:
        self.stop()
        self._index = index
        step = plan.steps[index]
        console.print(f"\nsteps[{index}] of {len(plan.steps)}: {step.describe()}", markup=False)
        if not learners:
            console.print("skipped: none of its learners is in --learners")
            return
        if learners != step.learners:
            console.print(f"only {', '.join(learners)} (--learners)")
        if self.shard is not None:
            console.print(f"only part {self.shard[0]} of {self.shard[1]} of its tasks (--shard)")

    def finished(self, summary: RunSummary) -> None:
        super().finished(summary)
        if summary.interrupted:
            saved = summary.stored
            console.print(f"interrupted in steps[{self._index}]: {saved} evaluations saved")

    def evaluated(self, new_records: int) -> None:
        self.stop()
        console.print(f"\nevaluations done: {new_records} new records in this build")

    def described(self, computed: int) -> None:
        self.stop()
        console.print(f"meta-features {FEATURE_VERSION}: {computed} tasks described")

    def exported(self, records: int, spaces: int, features: int) -> None:
        self.stop()
        console.print(
            f"\nexported {records} records of {spaces} spaces and the meta-features of "
            f"{features} tasks"
        )

    def trained(self, space: SpaceBuilt) -> None:
        self.stop()
        training = space.training or {}
        console.print(
            f"trained {space.bundle_version} on {training.get('records')} records of "
            f"{training.get('tasks')} tasks"
        )

    def warning(self, message: str) -> None:
        self.stop()
        err_console.print(f"warning: {message}", markup=False)


@app.command()
@handle_errors
def build(
    suite: Annotated[
        list[str],
        typer.Option(
            help="The plan's suite with its path, e.g. pmlb:../shared/datasets/pmlb; repeat as "
            "NAME=KIND:PATH for each further suite of the plan's \\[suites] table, e.g. "
            "pmlb-large=pmlb:../shared/datasets/pmlb-large (needed by the steps on it).",
            show_default=False,
        ),
    ],
    plan: Annotated[
        Path | None,
        typer.Option(help="Plan file (default: kb/plan.toml).", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write (default: kb/ of the source tree).", show_default=False),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: CPU count).")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address, or local:N.", show_default=False),
    ] = None,
    learners: Annotated[
        str | None,
        typer.Option(
            help="Evaluate only these of the plan's learners (comma-separated); the outputs "
            "still cover every space of the plan with records.",
            show_default=False,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Evaluate only part I of N of each step's tasks (I/N, e.g. 2/4: contiguous "
            "parts in suite order), so that N runs, here or on other machines, cover the plan "
            "between them; the outputs cover what the database holds.",
            show_default=False,
        ),
    ] = None,
    no_bench: Annotated[
        bool,
        typer.Option(
            "--no-bench",
            help="Evaluate nothing: export, describe and train from what the database holds.",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Training seed of the bundles.")] = 0,
    db: DbOption = None,
) -> None:
    """Rebuild the knowledge base from the datasets: run the plan, export, train, record how.

    Each step of the plan runs as `warmstart bench run` would (only what the
    database lacks), then the records and meta-features of the plan's spaces are
    exported, one bundle per space is trained, and provenance.json records the
    command, versions, counts and file hashes. SIGTERM or Ctrl-C stops it with
    exit code 130, keeping finished evaluations and leaving OUT untouched; run
    the same command again to resume.
    """
    kb_plan = load_kb_plan(plan if plan is not None else default_kb_dir() / KB_PLAN)
    only = csv_items(learners) if learners is not None else None
    part = parse_shard(shard) if shard is not None else None
    main_suite, further_suites = split_suite_options(suite)
    request = KbBuildRequest(
        plan=kb_plan,
        suite=main_suite,
        suites=further_suites,
        out=resolve_out_dir(out),
        command="warmstart " + shlex.join(sys.argv[1:]),
        learners=only,
        shard=part,
        bench=not no_bench,
        seed=seed,
        workers=resolve_workers(workers),
        dask=dask,
    )
    kb_build = KbBuild(request)  # checks everything before the database is opened
    with (
        sigterm_as_interrupt(),
        open_store(db, create=not no_bench) as store,
        _BuildDisplay(part) as display,
    ):
        try:
            kb_build.run(store, display)
        except KeyboardInterrupt:
            display.stop()
            err_console.print(
                "interrupted: finished evaluations are saved and nothing in "
                f"{request.out} was changed; run the same command again to resume",
                markup=False,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print(f"knowledge base written to {request.out} ({KB_PROVENANCE}: `warmstart kb info`)")


def _spaces_table(spaces: dict[str, dict[str, Any]]) -> Table:
    table = Table("space", "tasks", "records", "ok", "failed", "timeout", "model version")
    for name, entry in spaces.items():
        bundle = entry.get("bundle")
        table.add_row(
            name,
            *(f"{entry.get(key, 0):,}" for key in ("tasks", "records", "ok", "failed", "timeout")),
            bundle["version"] if isinstance(bundle, dict) else "-",
        )
    return table


@app.command()
@handle_errors
def info(
    kb: Annotated[
        Path | None,
        typer.Option(help="Knowledge-base folder (default: kb/ of the source tree)."),
    ] = None,
) -> None:
    """Show what a knowledge base holds, and whether its files still match provenance.json.

    Exit code 1 if a file listed in provenance.json is missing or has changed.
    """
    found = kb_info(kb if kb is not None else default_kb_dir())
    provenance = found.provenance
    if provenance is None:
        console.print(
            f"knowledge base {found.root}: no {KB_PROVENANCE}; counts from {KB_RECORDS}",
            markup=False,
        )
    else:
        console.print(
            f"knowledge base {found.root}: built {provenance.get('started_at')} to "
            f"{provenance.get('finished_at')} by\n  {provenance.get('command')}",
            markup=False,
        )
    console.print(_spaces_table(found.spaces))
    files = Table("file", "bytes", "sha256", *(("check",) if provenance is not None else ()))
    for f in found.files:
        size = f"{f.size:,}" if f.size is not None else "-"
        checked = (f.check,) if f.check is not None else ()
        files.add_row(f.name, size, f.sha256 or "-", *checked)
    console.print(files)
    if provenance is None:
        console.print(f"no {KB_PROVENANCE}: nothing to check the hashes against")
        return
    bad = found.mismatched
    if bad:
        err_console.print(
            f"{len(bad)} of {found.listed} files do not match {KB_PROVENANCE}: {', '.join(bad)}",
            markup=False,
        )
        raise typer.Exit(EXIT_CHANGED)
    console.print(f"all {found.listed} files match {KB_PROVENANCE}")
