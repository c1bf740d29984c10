"""The ``warmstart`` command line."""

from __future__ import annotations

import typer

from service.cli import _bench, _db, _demo, _kb, _model, _records, _report, _serve, _suggest
from service.cli import _features_io as _features_io  # features export | import
from service.cli import _kb_compare as _kb_compare  # kb compare
from service.cli import _models_admin as _models_admin  # model list | promote | rollback
from service.cli._quickstart import quickstart
from service.cli._refresh import refresh

__all__ = ["app", "main"]

app = typer.Typer(
    name="warmstart",
    help="Meta-learned warm-start hyperparameters: benchmark, train, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(_bench.app, name="bench")
app.add_typer(_db.app, name="db")
app.add_typer(_kb.app, name="kb")
app.add_typer(_records.app, name="records")
app.add_typer(_model.features_app, name="features")
app.add_typer(_model.model_app, name="model")
app.command()(_model.train)
app.command()(_model.evaluate)
app.command()(_serve.serve)
app.command()(_suggest.suggest)
app.command()(_report.report)
app.command()(refresh)
app.command()(quickstart)
app.command()(_demo.demo)


def main() -> None:
    """Entry point of the ``warmstart`` console script."""
    app()
