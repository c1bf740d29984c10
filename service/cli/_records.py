"""``warmstart records``: export and import records as Parquet."""

from __future__ import annotations

from pathlib import Path

import typer

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.store import RecordFilter, export_records, import_records
from warmstart.metamodel.types import RecordSource, RecordStatus
from warmstart.service.cli._common import DbOption, console, err_console, handle_errors, open_store

app = typer.Typer(
    help="Move evaluation records in and out as Parquet (docs/RECORDS_FORMAT.md).",
    no_args_is_help=True,
)

_SHOWN_ERRORS = 20


@app.command("export")
@handle_errors
def export_(
    path: Path = typer.Argument(..., help="Parquet file to write."),
    space: str | None = typer.Option(None, help="Only records of this space name."),
    status: RecordStatus | None = typer.Option(None, help="Only records with this status."),
    source: RecordSource | None = typer.Option(None, help="Only records from this source."),
    db: DbOption = None,
) -> None:
    """Write records, with their tasks and spaces, to a Parquet file."""
    if path.suffix != ".parquet":
        raise InvalidRequestError(f"the export path must end in .parquet, got {path}")
    with open_store(db, create=False) as store:
        where = RecordFilter(space_name=space, status=status, source=source)
        count = export_records(store, path, where)
    console.print(f"wrote {count} records to {path}")


@app.command("import")
@handle_errors
def import_(
    path: Path = typer.Argument(..., help="Parquet file in the records format."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Store the valid rows even if some rows are invalid."
    ),
    rejects: Path | None = typer.Option(
        None,
        help="With --skip-invalid: write the invalid rows here, with row_number and "
        "reject_reason (default: PATH.rejects.parquet).",
    ),
    fill_defaults: bool = typer.Option(
        False,
        "--fill-defaults",
        help="Give a config's missing active parameters the space's default values (for "
        "tables that list only what a config changes from the defaults) instead of refusing it.",
    ),
    lower_is_better: bool = typer.Option(
        False,
        "--lower-is-better",
        help="The score column is an error or a loss (lower is better): each score is stored "
        "negated, so that higher is better.",
    ),
    db: DbOption = None,
) -> None:
    """Validate every row of a records file, then import it all at once (or nothing)."""
    if rejects is not None and not skip_invalid:
        raise InvalidRequestError("--rejects only applies with --skip-invalid")
    if skip_invalid and rejects is None:
        rejects = path.with_name(path.name.removesuffix(".parquet") + ".rejects.parquet")
    with open_store(db) as store:
        report = import_records(
            store,
            path,
            skip_invalid=skip_invalid,
            rejects_path=rejects,
            fill_defaults=fill_defaults,
            lower_is_better=lower_is_better,
        )
    for error in report.invalid[:_SHOWN_ERRORS]:
        err_console.print(f"row {error.row}: {error.reason}", markup=False)
    if len(report.invalid) > _SHOWN_ERRORS:
        err_console.print(f"... and {len(report.invalid) - _SHOWN_ERRORS} more invalid rows")
    partial = sum("active parameter(s) missing" in e.reason for e in report.invalid)
    if partial and not fill_defaults:
        err_console.print(
            f"{partial} rows lack active parameters: if the file lists only what each config "
            "changes from the defaults, pass --fill-defaults",
            markup=False,
        )
    if not report.stored:
        err_console.print(
            f"[bold red]error[/bold red]: {len(report.invalid)} of {report.rows} rows are invalid; "
            "nothing was imported. Fix them, or pass --skip-invalid to import the valid rows."
        )
        raise typer.Exit(2)
    already = report.valid - report.new_records
    console.print(
        f"read {report.rows} rows: {report.new_records} new records, {report.new_tasks} new "
        f"tasks, {report.new_spaces} new spaces ({already} already stored)"
    )
    if fill_defaults:
        console.print(f"{report.filled} rows had missing parameters filled with the defaults")
    if lower_is_better:
        console.print("scores stored negated (lower-is-better in the file, higher-is-better here)")
    if report.invalid:
        console.print(f"skipped {len(report.invalid)} invalid rows -> {report.rejects_path}")
