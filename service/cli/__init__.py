"""The ``warmstart`` command line.

Each top-level command's module is imported when that command is used
(:mod:`warmstart.service.cli._lazy`), so ``warmstart --help`` and the light commands do not load
the libraries of the heavy ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

import typer

from warmstart.service.cli._lazy import LazyCommand, LazyGroup

__all__ = ["COMMANDS", "app", "main"]

#: Every top-level command, in the order ``warmstart --help`` lists them.
COMMANDS = (
    LazyCommand(
        "train",
        "warmstart.service.cli._model:train",
        "Train a model bundle for one space on every record in the store.",
    ),
    LazyCommand(
        "evaluate",
        "warmstart.service.cli._model:evaluate",
        "Evaluate leave-family-out against the baselines (pool, live, seeding or "
        "sequential); write a report.",
    ),
    LazyCommand(
        "serve",
        "warmstart.service.cli._serve:serve",
        "Serve suggestions over gRPC until SIGTERM or SIGINT (then drain and stop).",
    ),
    LazyCommand(
        "suggest",
        "warmstart.service.cli._suggest:suggest",
        "Suggest k warm-start configs for a task, from a running `warmstart serve`.",
    ),
    LazyCommand(
        "report",
        "warmstart.service.cli._report:report",
        "Report observed results to a running server (idempotent by id: re-running is safe).",
    ),
    LazyCommand(
        "tasks",
        "warmstart.service.cli._tasks:app",
        "The tasks a running server knows: list them, or show one with its results.",
    ),
    LazyCommand(
        "refresh",
        "warmstart.service.cli._refresh:refresh",
        "Evaluate new tasks and uncertain configs, retrain, publish if not worse; for cron.",
    ),
    LazyCommand(
        "quickstart",
        "warmstart.service.cli._quickstart:quickstart",
        "Set up the data directory from the shipped knowledge base, then serve it.",
    ),
    LazyCommand(
        "demo",
        "warmstart.service.cli._demo:demo",
        "Run the loop end to end on a table: describe, suggest, then train and compare.",
    ),
    LazyCommand(
        "bench", "warmstart.service.cli._bench:app", "Evaluate learners' configs on task suites."
    ),
    LazyCommand(
        "db",
        "warmstart.service.cli._db:app",
        "Create, upgrade, check and inspect the records database.",
    ),
    LazyCommand(
        "kb",
        "warmstart.service.cli._kb:app",
        "The knowledge base (kb/): rebuild it from the datasets, or show what it holds.",
        also=("warmstart.service.cli._kb_compare",),
    ),
    LazyCommand(
        "records",
        "warmstart.service.cli._records:app",
        "Move evaluation records in and out as Parquet (docs/RECORDS_FORMAT.md).",
    ),
    LazyCommand(
        "features",
        "warmstart.service.cli._model:features_app",
        "Task meta-features.",
        also=("warmstart.service.cli._features_io",),
    ),
    LazyCommand(
        "model",
        "warmstart.service.cli._model:model_app",
        "Model bundles.",
        also=("warmstart.service.cli._models_admin",),
    ),
)


class _Warmstart(LazyGroup):
    lazy: ClassVar[Mapping[str, LazyCommand]] = {command.name: command for command in COMMANDS}


app = typer.Typer(
    name="warmstart",
    help="Meta-learned warm-start hyperparameters: benchmark, train, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Warmstart,
)


def _print_version(value: bool) -> None:
    if value:
        from warmstart.service.cli._versions import version_line

        typer.echo(version_line())
        raise typer.Exit()


# A callback makes the app a group even though no command is registered up front.
@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the versions of warmstart, Python and the libraries it runs on; exit.",
        ),
    ] = False,
) -> None:
    pass


def main() -> None:
    """Entry point of the ``warmstart`` console script."""
    app()
