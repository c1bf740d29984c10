"""``warmstart suggest``: k warm-start configs for a task, asked of a running server.

The task is a table file, described here (its meta-features computed locally,
as ``warmstart features compute`` does) unless ``--remote-describe`` sends it
to the server's DescribeTask; or its meta-features given in a file
(``--features``), which is how a task is described under a feature set
warmstart cannot compute (OpenML qualities, say); or a task the server stores
(``--task-id``). Then SuggestConfigs is called. Server failures become the
CLI's domain errors, so they print as one line and exit non-zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from rich.table import Table

from warmstart.benchmarks.tasks import TaskData, build_task_data, read_table, split_target
from warmstart.metamodel.errors import (
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
    WarmstartError,
)
from warmstart.metamodel.features import (
    FEATURE_VERSION,
    check_given,
    compute_meta_features,
    read_feature_values,
)
from warmstart.metamodel.recommend import MAX_K
from warmstart.metamodel.types import ConfigValue, NeighbourTask
from warmstart.service.cli._common import console, err_console, handle_errors
from warmstart.service.client import WarmstartClient, WarmstartRpcError
from warmstart.service.settings import (
    DEFAULT_SERVER,
    SERVER_ENV,
    TLS_ROOT_CERT_ENV,
    TOKEN_ENV,
    ClientSettings,
    client_settings,
)
from warmstart.service.wire.api import SuggestAnswer

__all__ = [
    "ServerOption",
    "TimeoutOption",
    "TlsRootCertOption",
    "TokenOption",
    "connected",
    "read_task_table",
    "suggest",
]

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help=f"Server HOST:PORT. Default: ${SERVER_ENV}, else {DEFAULT_SERVER}.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help=f"Bearer token. Default: ${TOKEN_ENV}.", show_default=False),
]
TlsRootCertOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-root-cert",
        help=f"PEM certificate to trust; given, the call uses TLS. Default: ${TLS_ROOT_CERT_ENV}.",
        show_default=False,
    ),
]
TimeoutOption = Annotated[float, typer.Option(help="Deadline of each call, in seconds.")]

# A down server is refused within a second or two: the client retries UNAVAILABLE twice.
_RETRIES = 2


def _rpc_error(exc: WarmstartRpcError, settings: ClientSettings) -> WarmstartError:
    """The domain error a refused call means, with what to do about it."""
    code, message, server = exc.code, exc.message, settings.server
    if code is grpc.StatusCode.UNAVAILABLE:
        return FailedPreconditionError(
            f"cannot reach a warmstart server at {server} ({message.strip() or 'unavailable'}); "
            f"start one with `warmstart serve` (it listens on {DEFAULT_SERVER} by default), "
            f"or point --server / ${SERVER_ENV} at a running one"
        )
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return FailedPreconditionError(
            f"the server at {server} did not answer within {settings.timeout:g} s (--timeout)"
        )
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return FailedPreconditionError(
            f"the server at {server} refused the token: {message} "
            f"(give a token it accepts with --token or ${TOKEN_ENV})"
        )
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequestError(f"the server refused the request: {message}")
    if code is grpc.StatusCode.NOT_FOUND:
        return NotFoundError(message)
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPreconditionError(message)
    return WarmstartError(f"the server at {server} failed the call ({code.name}): {message}")


@contextmanager
def connected(settings: ClientSettings) -> Iterator[WarmstartClient]:
    """A client of the configured server whose refused calls raise domain errors.

    Raises:
        WarmstartError: A call failed (the subclass says how; the message says what to do).
    """
    client = WarmstartClient(
        settings.server,
        token=settings.token,
        root_certificates=settings.tls_root_cert,
        timeout=settings.timeout,
        retries=_RETRIES,
    )
    try:
        yield client
    except WarmstartRpcError as exc:
        raise _rpc_error(exc, settings) from None
    finally:
        client.close()


def read_exclude(path: Path) -> list[dict[str, ConfigValue]]:
    """Read a JSON list of configs (``{name: value}`` objects) already tried.

    Raises:
        InvalidRequestError: The file is missing, not JSON, or not a list of flat objects.
    """
    if not path.is_file():
        raise InvalidRequestError(f"--exclude {path}: no such file")
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"--exclude {path}: cannot read the file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"--exclude {path}:{exc.lineno}: not valid JSON ({exc.msg}); "
            'give a JSON list of configs, e.g. [{"learning_rate": 0.1, "num_leaves": 31}]'
        ) from None
    if not isinstance(loaded, list):
        raise InvalidRequestError(
            f"--exclude {path}: must hold a JSON list of configs, got a {type(loaded).__name__}"
        )
    configs: list[dict[str, ConfigValue]] = []
    for i, item in enumerate(loaded):
        if not isinstance(item, dict):
            raise InvalidRequestError(
                f"--exclude {path}: item {i} must be a config object, got {json.dumps(item)}"
            )
        for name, value in item.items():
            if not isinstance(value, (bool, int, float, str)):
                raise InvalidRequestError(
                    f"--exclude {path}: item {i}, parameter {name!r}: a value must be a number, "
                    f"string or boolean, got {json.dumps(value)}"
                )
        configs.append(dict(item))
    return configs


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _compact(config: Mapping[str, ConfigValue]) -> str:
    def show(value: ConfigValue) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    return ", ".join(f"{name}={show(value)}" for name, value in config.items())


def _neighbours(answer: SuggestAnswer) -> tuple[NeighbourTask, ...]:
    return answer.suggestions[0].nearest_tasks if answer.suggestions else ()


def answer_json(answer: SuggestAnswer, task: Mapping[str, Any]) -> dict[str, Any]:
    """The answer as plain JSON-able values (configs keep their int/float/str/bool types)."""
    return {
        "model_version": answer.model_version,
        "space_id": answer.space_id,
        "out_of_distribution": answer.out_of_distribution,
        "task": dict(task),
        "nearest_tasks": [
            {"task_id": n.task_id, "name": n.name, "distance": _finite(n.distance)}
            for n in _neighbours(answer)
        ],
        "suggestions": [
            {
                "rank": rank,
                "config": dict(s.config),
                "predicted_score": _finite(s.predicted_score),
                "uncertainty": _finite(s.uncertainty),
                "predicted_fit_seconds": _finite(s.predicted_fit_seconds),
                "origin": s.origin.value,
            }
            for rank, s in enumerate(answer.suggestions, start=1)
        ],
    }


def _about(task: Mapping[str, Any]) -> str:
    """One line saying what the task was and how its meta-features were had."""
    version = task["feature_version"]
    if "features_file" in task:
        given = f"{task['given']} meta-features {version} given in {task['features_file']}"
        missing = task["missing"]
        return given + (f" ({len(missing)} not given: {', '.join(missing)})" if missing else "")
    if "task_id" in task:
        return f"task {task['task_id']}: its stored meta-features {version}"
    return (
        f"task {task['file']} (target {task['target']}): {task['task_type']}, "
        f"{task['n_rows']} rows x {task['n_features']} features; meta-features "
        f"{version} computed {task['described']}"
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
    neighbours = _neighbours(answer)
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


def read_task_table(data: Path, target: str, task_type: str | None = None) -> TaskData:
    """A table file with a target column as a task (type inferred unless given).

    Raises:
        InvalidRequestError: Unreadable table, or no such target column (the columns are named).
    """
    frame = read_table(data)
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        shown = ", ".join(repr(c) for c in columns[:10])
        more = f", ... ({len(columns)} in all)" if len(columns) > 10 else ""
        raise InvalidRequestError(
            f"{data}: no target column {target!r}; columns are {shown}{more}: "
            "name one with --target"
        )
    X, y = split_target(frame, target, str(data))
    return build_task_data(X, y, name=data.name, source="files", task_type=task_type)


def _other_features(space: str, version: str, names: tuple[str, ...]) -> FailedPreconditionError:
    """Why a table cannot describe a task for a model of another feature set, and what to give."""
    return FailedPreconditionError(
        f"the model serving {space!r} takes meta-features {version!r}, which this warmstart "
        f"cannot compute from a table (it computes {FEATURE_VERSION!r}): give the task's "
        f"{len(names)} meta-features with --features FILE (a JSON object or a CSV of "
        f"name -> value) or a task the server stores with --task-id, or run with "
        f"--remote-describe if the server computes them; the names are {', '.join(names)}"
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
    k: Annotated[int, typer.Option("-k", "--k", help=f"How many configs (1 to {MAX_K}).")] = 5,
    task_type: Annotated[
        str | None,
        typer.Option(help="binary, multiclass or regression. Default: inferred from the target."),
    ] = None,
    max_fit_seconds: Annotated[
        float | None,
        typer.Option(help="Leave out configs predicted to fit slower than this (seconds)."),
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    tls_root_cert: TlsRootCertOption = None,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Suggest k warm-start configs for a task, from a running `warmstart serve`.

    The task is a table (--data, --target), its meta-features (--features) or a
    task the server stores (--task-id).
    """
    settings = client_settings(
        server=server, token=token, tls_root_cert=tls_root_cert, timeout=timeout
    )
    if not 1 <= k <= MAX_K:
        raise InvalidRequestError(f"-k must be in [1, {MAX_K}], got {k}")
    _sources(data, target, features_file, task_id)
    if remote_describe and data is None:
        raise InvalidRequestError("--remote-describe only applies with --data")
    tried = read_exclude(exclude) if exclude is not None else []
    if data is None:
        given = read_feature_values(features_file) if features_file is not None else None
        with connected(settings) as client:
            served = client.model_info(space)
            version = served.feature_version
            if given is not None:
                check_given(given, served.feature_names, version)
            answer = client.suggest(
                given if given is not None else str(task_id),
                space,
                k,
                feature_version=version if given is not None else "",
                max_fit_seconds=max_fit_seconds,
                exclude=tried,
                train_rows=train_rows,
            )
        about: dict[str, Any] = {"feature_version": version}
        if given is not None:
            about |= {
                "features_file": str(features_file),
                "given": len(given),
                "missing": [n for n in served.feature_names if n not in given],
            }
        else:
            about["task_id"] = task_id
        _show(answer, about, space, as_json)
        return
    if target is None:
        raise InvalidRequestError("--data needs --target: the table's target column")
    built = read_task_table(data, target, task_type)
    X, y, kind = built.X, built.y, built.task.task_type
    with connected(settings) as client:
        # Before the data are described: a down server, an unknown space or a model of
        # other meta-features is refused in milliseconds, not after the describing.
        served = client.model_info(space)
        if not remote_describe and served.feature_version != FEATURE_VERSION:
            raise _other_features(space, served.feature_version, served.feature_names)
        if remote_describe:
            with err_console.status(f"describing {data.name} on {settings.server}..."):
                described = client.describe(X, y, kind)
            features: Mapping[str, float] = described.as_dict()
            version = described.features.version
        else:
            with err_console.status(f"computing the meta-features of {data.name}..."):
                features = compute_meta_features(X, y, kind)
            version = FEATURE_VERSION
        answer = client.suggest(
            features,
            space,
            k,
            feature_version=version,
            max_fit_seconds=max_fit_seconds,
            exclude=tried,
            train_rows=train_rows,
        )
    task = {
        "file": str(data),
        "target": target,
        "task_type": kind.value,
        "n_rows": int(X.shape[0]),
        "train_rows": train_rows or int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "feature_version": version,
        "described": "on the server" if remote_describe else "locally",
    }
    _show(answer, task, space, as_json)


def _show(answer: SuggestAnswer, task: Mapping[str, Any], space: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(answer_json(answer, task), indent=2, allow_nan=False))
        return
    _print_answer(answer, task, space)
