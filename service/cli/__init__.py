"""The ``warmstart`` command line."""

from __future__ import annotations

import typer

from service.cli import _bench, _db, _model, _records, _report, _serve, _suggest
from service.cli import _models_admin as _models_admin  # model list | promote | rollback
from service.cli._common import DbOption, console, handle_errors, open_store
from service.cli._refresh import refresh
from service.settings import resolve_db_url

__all__ = ["app", "main"]

app = typer.Typer(
    name="warmstart",
    help="Meta-learned warm-start hyperparameters: benchmark, train, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(_bench.app, name="bench")
app.add_typer(_db.app, name="db")
app.add_typer(_records.app, name="records")
app.add_typer(_model.features_app, name="features")
app.add_typer(_model.model_app, name="model")
app.command()(_model.train)
app.command()(_model.evaluate)
app.command()(_serve.serve)
app.command()(_suggest.suggest)
app.command()(_report.report)
app.command()(refresh)


@app.command()
@handle_errors
def quickstart(db: DbOption = None) -> None:
    """Set up the default database in the data directory and show its status."""
    url = resolve_db_url(db)
    with open_store(db) as store:
        _db.print_stats(store.stats())
    console.print(f"\nwarmstart is ready: database {url}")


def main() -> None:
    """Entry point of the ``warmstart`` console script."""
    app()
