"""``warmstart quickstart``: set up the data directory from the shipped knowledge base, then serve.

On a fresh data directory this creates the default database, imports the
shipped records and meta-features (``kb/``), registers the shipped model
bundles (copied into ``models/`` of the data directory, so it is
self-contained) and serves them exactly as ``warmstart serve`` does. Every
step is idempotent: a second start imports and registers nothing again, and a
start after an interrupted one finishes what is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.status import Status

from warmstart.benchmarks.kb import KnowledgeBase, source_root
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.probes import is_probe_version
from warmstart.service.cli import _db, _serve
from warmstart.service.cli._common import (
    DbOption,
    HostOption,
    PortOption,
    TokenOption,
    console,
    err_console,
    handle_errors,
    open_store,
)
from warmstart.service.settings import data_dir, resolve_db_url, server_settings
from warmstart.service.setup import SetupReport, set_up_knowledge_base

__all__ = ["quickstart"]

_EXAMPLE_DATA = Path("shared") / "datasets" / "pmlb" / "breast_cancer.tsv.gz"


def _print_setup(report: SetupReport) -> None:
    """What the set-up imported and registered, or that it found everything in place."""
    if report.records is not None:
        records = report.records
        console.print(
            f"  records: {records.new_records} new, {records.new_tasks} new tasks, "
            f"{records.new_spaces} new spaces"
        )
    if report.features.new:
        versions = report.features.new_by_version
        described = versions.get(FEATURE_VERSION, report.features.new)
        probed = sum(n for v, n in versions.items() if is_probe_version(v))
        console.print(
            f"  meta-features: {described} tasks described "
            f"({report.features.already} rows already)"
            + (f"; learner probes of {probed} (task, space) pairs" if probed else "")
        )
    for source, reason in report.skipped.items():
        err_console.print(f"warning: skipped the shipped model {source}: {reason}", markup=False)
    for model in report.models:
        if not model.registered:
            console.print(f"  model {model.space}: serving {model.version}")
        elif model.serving == model.version:
            console.print(f"  model {model.space}: registered {model.version}, serving it")
        else:
            console.print(
                f"  model {model.space}: registered {model.version}; {model.serving} keeps serving"
            )
    if not report.changed:
        console.print(
            f"knowledge base {report.kb_root}: already set up, nothing to import or register"
        )


def _program() -> str:
    """How the user ran ``warmstart``, so the printed client command works as shown."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "warmstart" or os.sep not in sys.argv[0]:
        return "warmstart"
    found = shutil.which("warmstart")
    if found and Path(found).resolve() == argv0.resolve():
        return "warmstart"
    return sys.argv[0] if not argv0.is_absolute() else os.path.relpath(argv0)


def _example(host: str | None, port: int | None) -> str:
    """A client command that asks the server quickstart starts for five LightGBM configs."""
    settings = server_settings(host=host, port=port)
    data = source_root().parent / _EXAMPLE_DATA
    table = (
        f"--data {os.path.relpath(data)} --target target"
        if data.is_file()
        else "--data YOUR_TABLE.csv --target TARGET_COLUMN"
    )
    parts = [_program(), "suggest", table, "--space lightgbm -k 5"]
    client_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "[::]") else settings.host
    if settings.port == 0:
        parts.append(f"--server {client_host}:PORT  # PORT: as printed by 'listening on' below")
    elif (client_host, settings.port) != ("127.0.0.1", 50051):
        parts.append(f"--server {client_host}:{settings.port}")
    if settings.tls:
        parts.append("--tls-root-cert CERT.pem")
    if not settings.reads_open:
        parts.append("--token TOKEN")
    return " ".join(parts)


@handle_errors
def quickstart(
    host: HostOption = None,
    port: PortOption = None,
    token: TokenOption = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Only set up the database and models; do not serve.")
    ] = False,
    kb: Annotated[
        Path | None,
        typer.Option(help="Knowledge-base folder (default: kb/ of the source tree)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Set up the data directory from the shipped knowledge base, then serve it.

    Creates the database if missing; on the first start imports the shipped
    records and meta-features; registers the shipped models (serving each where
    its space serves nothing yet); prints the status; then runs the server as
    `warmstart serve` does, until SIGTERM or Ctrl-C.
    """
    knowledge = KnowledgeBase.locate(kb)
    url = resolve_db_url(db)
    with open_store(db) as store:
        spinner: list[Status] = []

        def first_import(kb: KnowledgeBase) -> None:
            console.print(f"first start: importing the knowledge base from {kb.root}")
            spinner.append(console.status(f"importing {kb.records.name}..."))
            spinner[0].start()

        try:
            report = set_up_knowledge_base(
                store, knowledge, data_dir() / "models", on_first_import=first_import
            )
        finally:
            for status in spinner:
                status.stop()
        _print_setup(report)
        console.print()
        _db.print_stats(store.stats())
    console.print(f"\nwarmstart is ready: database {url}")
    if no_serve:
        console.print("serve it with `warmstart serve` (or `warmstart quickstart` again)")
        return
    console.print(
        "\nstarting the server; once it is listening, ask it from another shell:\n"
        f"  {_example(host, port)}",
        markup=False,
    )
    sys.stdout.flush()
    _serve.serve(host=host, port=port, token=token, db=db)
