"""What every CLI command shares: the --db option, error handling, consoles."""

from __future__ import annotations

from typing import Annotated

import typer

from warmstart.metamodel.store import RecordStore
from warmstart.service.cli._console import console, err_console, handle_errors
from warmstart.service.settings import resolve_db_url

__all__ = ["DbOption", "console", "err_console", "handle_errors", "open_store"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (sqlite:///PATH or postgresql+psycopg://...) or a SQLite file path. "
        "Default: $WARMSTART_DB, else warmstart.db in $WARMSTART_HOME.",
        show_default=False,
    ),
]


def open_store(db: str | None, *, create: bool = True) -> RecordStore:
    """Open the database chosen by ``--db`` / the environment."""
    return RecordStore.open(resolve_db_url(db), create=create)
