"""``warmstart suggest``: k warm-start configs for a task, asked of a running server.

The task is a table file, described here (its meta-features computed locally,
as ``warmstart features compute`` does) unless ``--remote-describe`` sends it
to the server's DescribeTask; or its meta-features given in a file
(``--features``); or a task the server stores (``--task-id``). The workflow is
:mod:`warmstart.service.suggesting`'s; server failures become the CLI's domain
errors (:func:`warmstart.service.connection.connected`), so they print as one
line and exit non-zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import ConfigValue
from warmstart.service.cli._client_options import (
    ServerOption,
    TimeoutOption,
    TlsRootCertOption,
    TokenOption,
)
from warmstart.service.cli._console import console, err_console, handle_errors
from warmstart.service.connection import connected
from warmstart.service.settings import client_settings
from warmstart.service.suggesting import (
    SuggestOptions,
    answer_json,
    nearest_tasks,
    read_exclude,
    suggest_for_table,
    suggest_for_task,
)
from warmstart.service.wire.api import SuggestAnswer

__all__ = ["suggest"]


def _compact(config: Mapping[str, ConfigValue]) -> str:
    def show(value: ConfigValue) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    return ", ".join(f"{name}={show(value)}" for name, value in config.items())


def _about(task: Mapping[str, Any]) -> str:
    """One line saying what the task was and how its meta-features were had."""
    version = task["feature_version"]
    if "features_file" in task:
        given = f"{task['given']} meta-features {version} given in {task['features_file']}"
        missing = task["missing"]
        return given + (f" ({len(missing)} not given: {', '.join(missing)})" if missing else "")
    if "file" not in task:
        return f"task {task['task_id']}: its stored meta-features {version}"
    registered = f"; registered as task {task['task_id']}" if "task_id" in task else ""
    probed = f", with {task['probes']} probe scores" if task.get("probes") else ""
    return (
        f"task {task['file']} (target {task['target']}): {task['task_type']}, "
        f"{task['n_rows']} rows x {task['n_features']} features; meta-features "
        f"{version} computed {task['described']}{probed}{registered}"
    )


def _print_answer(answer: SuggestAnswer, task: Mapping[str, Any], space: str) -> None:
    console.print(_about(task), markup=False)
    console.print(f"model {answer.model_version}, space {space} ({answer.space_id})", markup=False)
    if answer.out_of_distribution:
        console.print(
            "[yellow]out of distribution: yes[/yellow] - the task is far from every training "
            "task, so only robust candidates (default, portfolio, neighbours' best) are offered"
        )
    else:
        console.print("out of distribution: no")
    if answer.observations:
        console.print(
            f"observations used: {answer.observations} (the task's reported results and "
            "those given); none of their configs is suggested again",
            markup=False,
        )
    neighbours = nearest_tasks(answer)
    if neighbours:
        shown = ", ".join(f"{n.name or n.task_id} ({n.distance:.3g})" for n in neighbours)
        console.print(f"nearest training tasks (distance): {shown}", markup=False)
    table = Table("rank", "predicted score", "fit s", "origin", "config")
    for rank, s in enumerate(answer.suggestions, start=1):
        fit = f"{s.predicted_fit_seconds:.3g}" if math.isfinite(s.predicted_fit_seconds) else "?"
        table.add_row(
            str(rank),
            f"{s.predicted_score:.3f} ± {s.uncertainty:.3f}",
            fit,
            s.origin.value,
            _compact(s.config),
        )
    console.print(table)
    console.print(
        "predicted score: normalised within a task (1 = the best config seen on a training "
        "task), ± the spread over the ensemble",
        style="dim",
    )


def _sources(
    data: Path | None, target: str | None, features: Path | None, task_id: str | None
) -> None:
    """Check that exactly one way of giving the task is used."""
    options = (("--data", data), ("--features", features), ("--task-id", task_id))
    given = [name for name, value in options if value is not None]
    if len(given) != 1:
        raise InvalidRequestError(
            "give the task one way: --data TABLE with --target COLUMN, --features FILE or "
            f"--task-id ID (got {', '.join(given) or 'none'})"
        )
    if data is None and target is not None:
        raise InvalidRequestError("--target only applies with --data")
    if data is not None and target is None:
        raise InvalidRequestError("--data needs --target: the table's target column")


@handle_errors
def suggest(
    space: Annotated[
        str, typer.Option(help="Search space name or id, e.g. lightgbm.", show_default=False)
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            help="The task as a table: .csv, .tsv (optionally .gz) or .parquet (with --target).",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="The table's target column.", show_default=False)
    ] = None,
    features_file: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="The task as its meta-features of the served model's version: a JSON object "
            "or a CSV of name -> value (names not given count as missing).",
            show_default=False,
        ),
    ] = None,
    task_id: Annotated[
        str | None,
        typer.Option(
            help="The task as the id of a task the server stores with meta-features.",
            show_default=False,
        ),
    ] = None,
    k: Annotated[
        int, typer.Option("-k", "--k", help="How many configs (1 to the server's maximum).")
    ] = 5,
    task_type: Annotated[
        str | None,
        typer.Option(help="binary, multiclass or regression. Default: inferred from the target."),
    ] = None,
    max_fit_seconds: Annotated[
        float | None,
        typer.Option(
            help="Leave out configs predicted to fit slower than this (seconds), with the "
            "fit-time model's error margin (model info: fit_time.margin)."
        ),
    ] = None,
    exclude: Annotated[
        Path | None,
        typer.Option(help="JSON file: a list of configs already tried, to leave out."),
    ] = None,
    train_rows: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Rows the configs will be trained on. Default: the table's rows.",
        ),
    ] = None,
    remote_describe: Annotated[
        bool,
        typer.Option(
            "--remote-describe",
            help="Compute the meta-features on the server (DescribeTask) instead of here.",
        ),
    ] = False,
    probes: Annotated[
        bool,
        typer.Option(
            help="With --data, where the served model reads learner probes: send the table "
            "to the server (DescribeTask), which trains the probe configs on a 1,000-row "
            "sample (seconds) and passes their scores on. --no-probes: describe it here, "
            "and the model answers from the meta-features alone.",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    tls_root_cert: TlsRootCertOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Suggest k warm-start configs for a task, from a running `warmstart serve`.

    The task is a table (--data, --target), its meta-features (--features) or a
    task the server stores (--task-id). With a write token (--token) a table is
    registered on the server and its task id shown: report results for that id
    (`warmstart report`) and the next suggestions use them.
    """
    settings = client_settings(
        server=server, token=token, tls_root_cert=tls_root_cert, timeout=timeout
    )
    if k < 1:
        raise InvalidRequestError(f"-k must be at least 1, got {k}")
    _sources(data, target, features_file, task_id)
    if remote_describe and data is None:
        raise InvalidRequestError("--remote-describe only applies with --data")
    options = SuggestOptions(
        space=space,
        k=k,
        max_fit_seconds=max_fit_seconds,
        exclude=read_exclude(exclude) if exclude is not None else (),
        train_rows=train_rows,
    )
    with connected(settings) as client:
        if data is None:
            answer, task = suggest_for_task(
                client, options, features_file=features_file, task_id=task_id
            )
        else:
            answer, task = suggest_for_table(
                client,
                options,
                data,
                str(target),
                task_type=task_type,
                remote_describe=remote_describe,
                register=settings.token is not None,
                progress=lambda message: err_console.status(message),
                probes=probes,
            )
    if as_json:
        typer.echo(json.dumps(answer_json(answer, task), indent=2, allow_nan=False))
        return
    _print_answer(answer, task, space)
