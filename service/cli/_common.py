"""What CLI commands share: the options several take, error handling, consoles, notices."""

from __future__ import annotations

import functools
import shlex
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
    WarmstartError,
)
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import RecordStore
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

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
for _console in (console, err_console):
    if not _console.is_terminal:  # logs and pipes: do not squeeze tables into 80 columns
        _console.width = max(_console.width, 160)

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
        help=f"Meta-feature set: {FEATURE_VERSION} (computed by warmstart) or a version "
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


_P = ParamSpec("_P")
_R = TypeVar("_R")

EXIT_INVALID = 2
EXIT_FAILED = 1


def handle_errors(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Print a domain error as one clear line and exit non-zero, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except WarmstartError as exc:
            kind = {
                InvalidRequestError: "invalid input",
                NotFoundError: "not found",
                FailedPreconditionError: "cannot proceed",
            }
            label = next((v for k, v in kind.items() if isinstance(exc, k)), "error")
            err_console.print(Text.assemble(("error", "bold red"), f" ({label}): {exc}"))
            code = EXIT_INVALID if isinstance(exc, InvalidRequestError) else EXIT_FAILED
            raise typer.Exit(code) from None

    return wrapper


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
