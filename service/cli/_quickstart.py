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

from warmstart.benchmarks.kb import (
    KnowledgeBase,
    file_sha256,
    source_root,
)
from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.errors import FailedPreconditionError, WarmstartError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import (
    ModelAction,
    ModelLedger,
    RecordStore,
    import_records,
    import_task_features,
)
from warmstart.metamodel.types import ModelVersion
from warmstart.service.cli import _db, _serve
from warmstart.service.cli._common import DbOption, console, err_console, handle_errors, open_store
from warmstart.service.settings import data_dir, resolve_db_url, server_settings

__all__ = [
    "quickstart",
    "register_bundles",
    "setup_knowledge_base",
]

_EXAMPLE_DATA = Path("shared") / "datasets" / "pmlb" / "breast_cancer.tsv.gz"


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _import_records(store: RecordStore, kb: KnowledgeBase) -> bool:
    """Import the shipped records if the store has none (the first start): all or nothing."""
    if store.count_records():
        return False
    console.print(f"first start: importing the knowledge base from {kb.root}")
    with console.status(f"importing {kb.records.name}..."):
        report = import_records(store, kb.records)
    if not report.stored:
        first = report.invalid[0]
        raise FailedPreconditionError(
            f"{kb.records} has {len(report.invalid)} invalid rows (row {first.row}: "
            f"{first.reason}); nothing was imported"
        )
    console.print(
        f"  records: {report.new_records} new, {report.new_tasks} new tasks, "
        f"{report.new_spaces} new spaces"
    )
    return True


def _import_features(store: RecordStore, kb: KnowledgeBase) -> int:
    """Import the shipped meta-features of stored tasks that lack them (all or nothing)."""
    report = import_task_features(store, kb.features, skip_unknown_tasks=True)
    if not report.stored:
        first = report.invalid[0]
        raise FailedPreconditionError(
            f"{kb.features} has {len(report.invalid)} invalid rows (row {first.row}: "
            f"{first.reason}); no meta-features were imported"
        )
    if report.new:
        console.print(f"  meta-features: {report.new} tasks described ({report.already} already)")
    return report.new


def register_bundles(store: RecordStore, bundles: list[Path], models_dir: Path) -> int:
    """Copy bundles into ``models_dir``, register each version, and serve it if nothing serves.

    A space that already has a serving version keeps it; a bundle that does not
    load with this code (say, another LightGBM major version) is reported and
    skipped.

    Returns:
        How many versions were registered or made to serve.
    """
    ledger = ModelLedger(store)
    changed = 0
    for source in bundles:
        try:
            bundle = load_bundle(source, feature_version=FEATURE_VERSION)
        except WarmstartError as exc:
            err_console.print(f"warning: skipped the shipped model {source}: {exc}", markup=False)
            continue
        space = bundle.space.name
        target = models_dir / f"{bundle.version}.wsb"
        digest = file_sha256(source)
        if not target.is_file() or file_sha256(target) != digest:
            _copy_atomically(source, target)
        versions = {v.version: v for v in store.list_model_versions(space)}
        serving = next((v.version for v in versions.values() if v.serving), None)
        detail = {"by": "warmstart quickstart", "from": str(source)}
        if bundle.version not in versions:
            model = ModelVersion(
                bundle.version,
                space,
                str(target.resolve()),
                digest,
                bundle.created_at,
                bundle.metrics,
            )
            changed += 1
            if serving is None:
                ledger.publish(model, expected_serving=None, detail=detail)
                console.print(f"  model {space}: registered {bundle.version}, serving it")
            else:
                store.add_model_version(model)
                console.print(
                    f"  model {space}: registered {bundle.version}; {serving} keeps serving"
                )
        elif serving is None:
            ledger.switch_serving(bundle.version, action=ModelAction.PROMOTE, detail=detail)
            changed += 1
            console.print(f"  model {space}: serving {bundle.version}")
    return changed


def setup_knowledge_base(store: RecordStore, kb: KnowledgeBase, models_dir: Path) -> None:
    """Import the shipped records and meta-features if missing and register the shipped models.

    Records are imported only into a store without records (the first start),
    in one transaction; meta-features are then added for stored tasks that
    lack them, so a start interrupted between the two is completed by the next.
    """
    imported = _import_records(store, kb)
    described = _import_features(store, kb)
    registered = register_bundles(store, kb.bundles, models_dir)
    if not (imported or described or registered):
        console.print(f"knowledge base {kb.root}: already set up, nothing to import or register")


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
    host: _serve.HostOption = None,
    port: _serve.PortOption = None,
    token: _serve.TokenOption = None,
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
        setup_knowledge_base(store, knowledge, data_dir() / "models")
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
