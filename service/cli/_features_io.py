"""``warmstart features export | import``: task meta-features in and out as Parquet.

Registered on the ``features`` command group of :mod:`warmstart.service.cli._model`; the
format is documented in :mod:`warmstart.metamodel.store._feature_parquet` and ``kb/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import (
    FeaturesImportReport,
    export_task_features,
    import_task_features,
)
from warmstart.service.cli._common import DbOption, console, err_console, handle_errors, open_store
from warmstart.service.cli._model import features_app

__all__ = ["features_export", "features_import", "print_features_report"]

_SHOWN_ERRORS = 20


@features_app.command("export")
@handle_errors
def features_export(
    path: Annotated[Path, typer.Argument(help="Parquet file to write.")],
    version: Annotated[
        str, typer.Option("--feature-version", help="Feature-set version to export.")
    ] = FEATURE_VERSION,
    db: DbOption = None,
) -> None:
    """Write every stored task's meta-features of one version to a Parquet file."""
    if path.suffix != ".parquet":
        raise InvalidRequestError(f"the export path must end in .parquet, got {path}")
    with open_store(db, create=False) as store:
        count = export_task_features(store, path, version)
    console.print(f"wrote meta-features {version} of {count} tasks to {path}")


def print_features_report(report: FeaturesImportReport) -> None:
    """Print what a features import did (or, with invalid rows, why it did nothing)."""
    for error in report.invalid[:_SHOWN_ERRORS]:
        err_console.print(f"row {error.row}: {error.reason}", markup=False)
    if len(report.invalid) > _SHOWN_ERRORS:
        err_console.print(f"... and {len(report.invalid) - _SHOWN_ERRORS} more invalid rows")
    if not report.stored:
        err_console.print(
            f"[bold red]error[/bold red]: {len(report.invalid)} of {report.rows} rows are invalid; "
            "nothing was imported."
        )
        return
    skipped = f", {report.skipped} of tasks not stored (skipped)" if report.skipped else ""
    versions = report.new_by_version
    new = f"{report.new} tasks' meta-features new"
    if len(versions) > 1:  # several feature sets: the rows each had to store
        new = f"{report.new} new (" + ", ".join(f"{v}: {n}" for v, n in versions.items()) + ")"
    console.print(f"read {report.rows} rows: {new}, {report.already} already stored{skipped}")


@features_app.command("import")
@handle_errors
def features_import(
    path: Annotated[Path, typer.Argument(help="Parquet file in the features format.")],
    skip_unknown_tasks: Annotated[
        bool,
        typer.Option(
            "--skip-unknown-tasks",
            help="Leave out rows of tasks that are not stored, instead of refusing the file.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Validate every row of a features file, then import it all at once (or nothing).

    The rows' tasks must be stored already: import their records first.
    """
    with open_store(db) as store:
        report = import_task_features(store, path, skip_unknown_tasks=skip_unknown_tasks)
    print_features_report(report)
    if not report.stored:
        raise typer.Exit(2)
