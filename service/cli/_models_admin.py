"""``warmstart model list | promote | rollback``: registered model versions and which one serves.

Switching the serving version is one store transaction that also records a
model event, so ``rollback`` can walk back through what served before. A
version is checked before it serves: its bundle file must exist, match the
registered hash, load (of whatever meta-feature version it was trained on),
and be the version and space it is registered as. ``--notify HOST:PORT`` then asks a
running server to reload (ReloadModel, admin token); if that fails the change
still stands, and the server's watcher or next start picks it up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.store import ModelAction, ModelEvent, ModelLedger, RecordStore
from warmstart.metamodel.types import ModelVersion
from warmstart.service.cli._common import (
    AdminTokenOption,
    DbOption,
    NotifyOption,
    TlsRootOption,
    console,
    handle_errors,
    notify_server,
    open_store,
)
from warmstart.service.cli._model import model_app
from warmstart.service.model_files import check_version_file

__all__ = ["list_versions", "promote", "rollback"]


def _describe(version: ModelVersion) -> str:
    created = f"{version.created_at:%Y-%m-%d %H:%M:%S}" if version.created_at else "?"
    return f"{version.version} (created {created} UTC)"


def _version_row(version: ModelVersion) -> dict[str, Any]:
    path = Path(version.path)
    return {
        "space": version.space_name,
        "version": version.version,
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "serving": version.serving,
        "metrics": dict(version.metrics),
        "path": version.path,
        "file_exists": path.is_file(),
    }


def _last_refresh(ledger: ModelLedger, space: str) -> ModelEvent | None:
    found = ledger.events(space, actions=[ModelAction.REFRESH], limit=1)
    return found[0] if found else None


@model_app.command("list")
@handle_errors
def list_versions(
    space: Annotated[str | None, typer.Option(help="Only this space.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """List registered model versions per space: age, metrics, serving flag, file."""
    with open_store(db) as store:
        versions = store.list_model_versions(space)
        ledger = ModelLedger(store)
        spaces = sorted({v.space_name for v in versions})
        last = {s: _last_refresh(ledger, s) for s in spaces}
    if as_json:
        payload = {
            "versions": [_version_row(v) for v in versions],
            "last_refresh": {
                s: None
                if e is None
                else {"at": e.created_at.isoformat(), "outcome": e.detail.get("outcome")}
                for s, e in last.items()
            },
        }
        console.print_json(json.dumps(payload))
        return
    if not versions:
        console.print("no model versions registered" + (f" for space {space!r}" if space else ""))
        return
    table = Table("space", "version", "created (UTC)", "serving", "metrics", "file")
    for version in sorted(versions, key=lambda v: (v.space_name, v.created_at is None)):
        row = _version_row(version)
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(version.metrics.items()))
        table.add_row(
            version.space_name,
            version.version,
            f"{version.created_at:%Y-%m-%d %H:%M:%S}" if version.created_at else "?",
            "*" if version.serving else "",
            metrics or "-",
            ("ok " if row["file_exists"] else "MISSING ") + version.path,
        )
    console.print(table, overflow="fold")
    for name, event in last.items():
        if event is not None:
            console.print(
                f"last refresh of {name}: {event.created_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"{event.detail.get('outcome', '?')}",
                markup=False,
            )


def _switch(
    store: RecordStore, target: ModelVersion, action: ModelAction, current: ModelVersion | None
) -> None:
    check_version_file(target)
    event = ModelLedger(store).switch_serving(
        target.version,
        action=action,
        expected_serving=current.version if current else None,
        detail={"by": "warmstart model " + action.value},
    )
    if event is None:
        console.print(f"{target.version} already serves space {target.space_name}; no change")
        return
    before = _describe(current) if current else "nothing"
    console.print(
        f"space {target.space_name}: now serving {_describe(target)}, was {before}", markup=False
    )


@model_app.command("promote")
@handle_errors
def promote(
    version: Annotated[str, typer.Argument(help="The registered version to serve.")],
    notify: NotifyOption = None,
    admin_token: AdminTokenOption = None,
    tls_root_cert: TlsRootOption = None,
    db: DbOption = None,
) -> None:
    """Serve VERSION for its space (after checking its bundle file loads and matches)."""
    with open_store(db) as store:
        target = store.get_model_version(version)
        current = next((v for v in store.list_model_versions(target.space_name) if v.serving), None)
        _switch(store, target, ModelAction.PROMOTE, current)
    if notify:
        notify_server(notify, admin_token, tls_root_cert, version)


@model_app.command("rollback")
@handle_errors
def rollback(
    space: Annotated[
        str | None, typer.Option(help="The space (needed when several have models).")
    ] = None,
    notify: NotifyOption = None,
    admin_token: AdminTokenOption = None,
    tls_root_cert: TlsRootOption = None,
    db: DbOption = None,
) -> None:
    """Serve the version that served before the current one (walks back one step per call)."""
    with open_store(db) as store:
        if space is None:
            serving = sorted({v.space_name for v in store.list_model_versions() if v.serving})
            if len(serving) != 1:
                raise InvalidRequestError(
                    "give --space: spaces with a serving model: " + (", ".join(serving) or "none")
                )
            space = serving[0]
        current, previous = ModelLedger(store).previous_serving(space)
        _switch(store, previous, ModelAction.ROLLBACK, current)
    if notify:
        notify_server(notify, admin_token, tls_root_cert, previous.version)
