"""``warmstart report``: send observed results from a JSON file to the server's ReportResults.

The file is JSON lines (one result object per line; blank lines are skipped)
or one JSON list of result objects. Fields:

- ``id`` (required): the result's unique id, at most 128 characters; re-sending it with the
  same payload is a no-op, with another payload it is refused.
- ``task_id`` (required): a task the server knows (``warmstart tasks list``; ``warmstart
  suggest --data ... --token`` registers a table and shows its id).
- ``space`` (required): the search space's name or id.
- ``config`` (required): ``{name: value}`` valid in the space (numbers, strings, booleans).
- ``status``: ``ok`` (default), ``failed`` or ``timeout``.
- ``score``: the primary score, higher is better; required with ``ok``, absent or null otherwise.
- ``metrics``: ``{name: number}``.
- ``fit_seconds``: seconds the fit took, >= 0.
- ``seed``: the evaluation seed, an integer (default 0).
- ``fidelity``: the budget relative to the full one, > 0 (default 1).
- ``error``: what went wrong, for failed and timed-out results.

The whole file is checked first, configs against the server's spaces included:
if anything is wrong each problem is named by line and field and nothing is sent. The
reading, checking and sending are :mod:`warmstart.service.reporting`'s.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.cli._client_options import (
    ServerOption,
    TimeoutOption,
    TlsRootCertOption,
    TokenOption,
)
from warmstart.service.cli._console import console, err_console, handle_errors
from warmstart.service.connection import connected
from warmstart.service.reporting import MAX_BATCH, check_configs, read_results, send_results
from warmstart.service.settings import TOKEN_ENV, client_settings

__all__ = ["report"]


def _progress(sent: int, total: int) -> None:
    err_console.print(f"reported {sent}/{total}", style="dim", markup=False)


@handle_errors
def report(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON lines (one result per line) or a JSON list of results.",
            show_default=False,
        ),
    ],
    batch: Annotated[
        int, typer.Option(min=1, max=MAX_BATCH, help="Results per ReportResults call.")
    ] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    tls_root_cert: TlsRootCertOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Report observed results to a running server (idempotent by id: re-running is safe).

    Each result has the fields id, task_id, space, config, status, score, metrics,
    fit_seconds, seed, fidelity, error (see the README). The whole file is checked
    first; if anything is wrong nothing is sent.
    """
    settings = client_settings(
        server=server, token=token, tls_root_cert=tls_root_cert, timeout=timeout
    )
    entries = read_results(file)
    if settings.token is None:
        raise InvalidRequestError(
            f"reporting needs a write token: give --token or set ${TOKEN_ENV} "
            "(one of the server's --token / WARMSTART_TOKENS values)"
        )
    with connected(settings) as client:
        check_configs(client, entries)
        totals = send_results(client, entries, batch, progress=None if as_json else _progress)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(totals)))
        return
    console.print(
        f"{totals.results} results in {totals.batches} batch(es) to {settings.server}: "
        f"{totals.stored} stored, {totals.already} already reported",
        markup=False,
    )
    if totals.duplicate_ids:
        shown = ", ".join(totals.duplicate_ids[:10])
        more = f" and {totals.duplicates - 10} more" if totals.duplicates > 10 else ""
        console.print(
            f"{totals.duplicates} not stored: the same evaluation (task, space, config, seed, "
            f"fidelity) is stored under another id: {shown}{more}; give repeats other seeds",
            markup=False,
        )
