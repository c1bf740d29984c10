"""``warmstart db``: create, upgrade, check and count the database."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from warmstart.metamodel.store import RecordStore, StoreStats
from warmstart.service.cli._common import DbOption, console, handle_errors, open_store
from warmstart.service.settings import resolve_db_url

app = typer.Typer(
    help="Create, upgrade, check and inspect the records database.", no_args_is_help=True
)


@app.command()
@handle_errors
def upgrade(db: DbOption = None) -> None:
    """Create the database, or upgrade it to the newest schema revision."""
    url = resolve_db_url(db)
    before, after = RecordStore.upgrade(url)
    if before is None:
        console.print(f"created {url} at schema revision {after}")
    elif before == after:
        console.print(f"{url} is already at the newest schema revision {after}")
    else:
        console.print(f"upgraded {url} from schema revision {before} to {after}")


@app.command()
@handle_errors
def check(db: DbOption = None) -> None:
    """Exit 0 if the database is a warmstart database at the newest revision."""
    url = resolve_db_url(db)
    state = RecordStore.check(url)
    console.print(f"ok: {url} is at the newest schema revision {state.revision}")


def print_stats(stats: StoreStats) -> None:
    """Print store counts as a small report."""
    console.print(f"database  {stats.url}")
    console.print(f"revision  {stats.revision}")
    console.print(
        f"tasks {stats.tasks}   spaces {stats.spaces}   records {stats.records}   "
        f"model versions {stats.model_versions}"
    )
    if stats.records:
        table = Table("space", "records", title=None, box=None)
        for name, count in stats.records_by_space.items():
            table.add_row(name, str(count))
        console.print(table)
        status = ", ".join(f"{k} {v}" for k, v in stats.records_by_status.items())
        source = ", ".join(f"{k} {v}" for k, v in stats.records_by_source.items())
        console.print(f"by status: {status}")
        console.print(f"by source: {source}")


@app.command()
@handle_errors
def stats(
    db: DbOption = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a report."),
) -> None:
    """Count tasks, spaces, records (by space, status and source) and model versions."""
    with open_store(db, create=False) as store:
        result = store.stats()
    if as_json:
        console.print_json(json.dumps(asdict(result)))
    else:
        print_stats(result)
