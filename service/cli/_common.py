"""What CLI commands share: the options several take, error handling, consoles, notices."""

from __future__ import annotations

import shlex
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from warmstart.metamodel.store import RecordStore
from warmstart.service.cli._console import console, err_console, handle_errors
from warmstart.service.settings import client_settings, resolve_db_url

__all__ = [
    "AdminTokenOption",
    "DbOption",
    "FeatureVersionOption",
    "HostOption",
    "NotifyOption",
    "PortOption",
    "TlsRootOption",
    "TokenOption",
    "command_line",
    "console",
    "err_console",
    "handle_errors",
    "notify_server",
    "open_store",
    "print_left_out",
]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (sqlite:///PATH or postgresql+psycopg://...) or a SQLite file path. "
        "Default: $WARMSTART_DB, else warmstart.db in $WARMSTART_HOME.",
        show_default=False,
    ),
]

FeatureVersionOption = Annotated[
    str,
    typer.Option(
        "--feature-version",
        help="Meta-feature set: the one warmstart computes (the default) or a version "
        "imported with `warmstart features import`, e.g. openml-q1.",
    ),
]

# The server's address and tokens (`serve`, `quickstart`).
HostOption = Annotated[
    str | None, typer.Option(help="Interface to listen on. Env: WARMSTART_HOST.")
]
PortOption = Annotated[
    int | None, typer.Option(help="gRPC port; 0 picks one. Env: WARMSTART_PORT.")
]
TokenOption = Annotated[
    list[str] | None,
    typer.Option(help="Write token (ReportResults); repeatable. Env: WARMSTART_TOKENS."),
]

# Telling a running server to reload (`model promote | rollback`, `refresh`).
NotifyOption = Annotated[
    str | None,
    typer.Option(
        "--notify",
        help="HOST:PORT of a running server to tell to reload (ReloadModel).",
        show_default=False,
    ),
]
AdminTokenOption = Annotated[
    str | None,
    typer.Option(
        "--admin-token",
        help="Admin bearer token for --notify (default: $WARMSTART_TOKEN).",
        show_default=False,
    ),
]
TlsRootOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-root-cert",
        help="PEM to trust for --notify over TLS (default: $WARMSTART_TLS_ROOT_CERT).",
        show_default=False,
    ),
]


def csv_items(value: str) -> tuple[str, ...]:
    """The items of a comma-separated option, stripped, empty ones left out."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def open_store(db: str | None, *, create: bool = True) -> RecordStore:
    """Open the database chosen by ``--db`` / the environment."""
    return RecordStore.open(resolve_db_url(db), create=create)


def command_line() -> str:
    """The command as the user ran it, quoted for a shell (reports record it)."""
    return "warmstart " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def print_left_out(left_out: Mapping[str, str], names: Mapping[str, str], what: str) -> None:
    """Name the tasks with records that ``what`` (training, evaluation) left out, by reason."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for task_id, reason in left_out.items():
        by_reason[reason].append(names.get(task_id, task_id))
    for reason, tasks in sorted(by_reason.items()):
        console.print(
            f"{what} left out {len(tasks)} task(s), {reason}: {', '.join(sorted(tasks))}",
            markup=False,
        )


def notify_server(
    target: str, token: str | None, tls_root_cert: Path | None, expected: str
) -> bool:
    """Ask the server at ``target`` to reload its models; print what happened.

    Returns:
        Whether the server now serves ``expected``. Failures are printed, not raised:
        the change is in the store either way.
    """
    from warmstart.service.client import WarmstartClient, WarmstartRpcError

    settings = client_settings(server=target, token=token, tls_root_cert=tls_root_cert)
    try:
        with WarmstartClient(
            settings.server,
            token=settings.token,
            root_certificates=settings.tls_root_cert,
            timeout=settings.timeout,
            retries=2,
        ) as client:
            outcome = client.reload_model()
    except WarmstartRpcError as exc:
        err_console.print(
            f"warning: could not notify the server at {target}: {exc.code.name}: {exc.message}. "
            "The change is published; the server's watcher or its next start picks it up.",
            markup=False,
        )
        return False
    served = outcome.model_version.split(",")
    console.print(
        f"notified {target}: it serves {outcome.model_version} "
        f"(was {outcome.previous_version or 'nothing'})",
        markup=False,
    )
    if expected not in served:
        err_console.print(
            f"warning: the server at {target} reloaded but does not serve {expected}; was it "
            "started with --model PATH rather than the store's serving versions?",
            markup=False,
        )
        return False
    return True
