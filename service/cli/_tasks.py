"""``warmstart tasks list | show``: the tasks a running server knows."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer
from rich.table import Table

from warmstart.metamodel.types import Task
from warmstart.service.cli._client_options import (
    ServerOption,
    TimeoutOption,
    TlsRootCertOption,
    TokenOption,
)
from warmstart.service.cli._console import console, handle_errors
from warmstart.service.connection import connected
from warmstart.service.settings import client_settings
from warmstart.service.wire.tasks import TaskDetail

__all__ = ["app"]

app = typer.Typer(
    help="The tasks a running server knows: list them, or show one with its results.",
    no_args_is_help=True,
)


def _task_json(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "name": task.name,
        "task_type": task.task_type.value,
        "n_rows": task.n_rows,
        "n_features": task.n_features,
        "source": task.source,
    }


def _detail_json(detail: TaskDetail) -> dict[str, Any]:
    return {
        **_task_json(detail.task),
        "features": {
            f.version: {n: (v if math.isfinite(v) else None) for n, v in f.as_dict().items()}
            for f in detail.features
        },
        "results": [
            {"space_id": r.space_id, "space": r.space_name, "results": r.results}
            for r in detail.results
        ],
    }


@app.command("list")
@handle_errors
def list_tasks(
    name_prefix: Annotated[
        str, typer.Option("--name", help="Only tasks whose name starts with this.")
    ] = "",
    page_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Tasks asked for per call.")
    ] = 100,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Show at most this many tasks.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    tls_root_cert: TlsRootCertOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """List the tasks the server knows, by name (ListTasks, a page at a time)."""
    settings = client_settings(
        server=server, token=token, tls_root_cert=tls_root_cert, timeout=timeout
    )
    found: list[Task] = []
    with connected(settings) as client:
        token_ = ""
        while limit is None or len(found) < limit:
            page = client.list_tasks(
                name_prefix=name_prefix, page_size=page_size, page_token=token_
            )
            found.extend(page.tasks)
            token_ = page.next_page_token
            if not token_:
                break
    shown = found if limit is None else found[:limit]
    if as_json:
        typer.echo(json.dumps([_task_json(t) for t in shown], indent=2))
        return
    table = Table("task id", "name", "type", "rows", "columns", "source")
    for task in shown:
        table.add_row(
            task.task_id,
            task.name,
            task.task_type.value,
            str(task.n_rows),
            str(task.n_features),
            task.source,
        )
    console.print(table)
    more = " (more with a higher --limit)" if limit is not None and len(found) >= limit else ""
    console.print(f"{len(shown)} tasks{more}")


@app.command("show")
@handle_errors
def show_task(
    task_id: Annotated[str, typer.Argument(help="The task's id (see `warmstart tasks list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    tls_root_cert: TlsRootCertOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Show one task: what it is, its meta-features and its results per space (GetTask)."""
    settings = client_settings(
        server=server, token=token, tls_root_cert=tls_root_cert, timeout=timeout
    )
    with connected(settings) as client:
        detail = client.get_task(task_id)
    if as_json:
        typer.echo(json.dumps(_detail_json(detail), indent=2, allow_nan=False))
        return
    task = detail.task
    console.print(
        f"[bold]{task.name}[/bold] ({task.task_id}): {task.task_type.value}, "
        f"{task.n_rows} rows, {task.n_features} columns, source {task.source}"
    )
    results = Table("space", "space id", "results")
    for counted in detail.results:
        results.add_row(counted.space_name, counted.space_id, str(counted.results))
    if detail.results:
        console.print(results)
    else:
        console.print("no results reported yet")
    for features in detail.features:
        defined = sum(1 for v in features.values if math.isfinite(v))
        console.print(
            f"meta-features {features.version}: {defined} of {len(features.values)} defined"
        )
