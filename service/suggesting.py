"""Asking a running server for warm-start configs, as ``warmstart suggest`` does.

The task is a table file, described here (its meta-features computed locally) or by the
server's DescribeTask; or its meta-features given in a file, which is how a task is
described under a feature set warmstart cannot compute (OpenML qualities, say); or a task
the server stores. Each way returns the answer with a description of the task as plain
values (:func:`answer_json` puts both in the JSON the CLI prints).

A table asked about with ``register`` (the CLI does when it has a write token) is stored
on the server as a task (RegisterTask, or DescribeTask with ``remote_describe``) and the
suggestion asked for by its id: the results reported for it since steer the answer.

Reading a table (:mod:`warmstart.benchmarks.tasks`) and meta-features
(:mod:`warmstart.metamodel.features`, a meta-features file included) load scikit-learn
and SciPy's statistics, 2 to 3 s of imports, so the functions that use them import them:
this module, and a suggestion for a task the server stores, load neither.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.probes import PROBE_KEY_PREFIX
from warmstart.metamodel.types import ConfigValue, NeighbourTask
from warmstart.service.client import WarmstartClient
from warmstart.service.wire.api import SuggestAnswer

if TYPE_CHECKING:
    from warmstart.benchmarks.tasks import TaskData

__all__ = [
    "Progress",
    "SuggestOptions",
    "answer_json",
    "nearest_tasks",
    "read_exclude",
    "read_task_table",
    "suggest_for_table",
    "suggest_for_task",
]

Progress = Callable[[str], AbstractContextManager[object]]
"""Shows that a slow step (named by the message) is under way while the context is open."""


def _quiet(message: str) -> AbstractContextManager[object]:
    return nullcontext()


@dataclass(frozen=True)
class SuggestOptions:
    """What is asked besides the task.

    Attributes:
        space: The search space's name or id.
        k: How many configs (the server allows 1 to its recommender's maximum).
        max_fit_seconds: Leave out configs predicted to fit slower than this (the
            prediction times the fit-time model's error margin, `fit_time.margin`).
        exclude: Configs already tried, to leave out.
        train_rows: Rows the configs will be trained on (``None``: the table's rows).
    """

    space: str
    k: int = 5
    max_fit_seconds: float | None = None
    exclude: Sequence[Mapping[str, ConfigValue]] = ()
    train_rows: int | None = None


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


def read_task_table(data: Path, target: str, task_type: str | None = None) -> TaskData:
    """A table file with a target column as a task (type inferred unless given).

    Raises:
        InvalidRequestError: Unreadable table, or no such target column (the columns are named).
    """
    from warmstart.benchmarks.tasks import build_task_data, read_table, split_target

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


def suggest_for_task(
    client: WarmstartClient,
    options: SuggestOptions,
    *,
    features_file: Path | None = None,
    task_id: str | None = None,
) -> tuple[SuggestAnswer, dict[str, Any]]:
    """Suggest for a task given as its meta-features in a file, or as a task the server stores.

    Returns:
        The answer, and the task as plain values: the feature version, and either the file
        with how many meta-features it gave and which it lacks, or the task id.

    Raises:
        InvalidRequestError: Neither or both of ``features_file`` and ``task_id``; the file is
            unreadable or names meta-features the served model does not take.
        WarmstartRpcError: The server refused a call.
    """
    if (features_file is None) == (task_id is None):
        raise InvalidRequestError("give the task as a meta-features file or a task id, not both")
    given: dict[str, float] | None = None
    if features_file is not None:
        from warmstart.metamodel.features import check_given, read_feature_values

        given = read_feature_values(features_file)
    served = client.model_info(options.space)
    version = served.feature_version
    if given is not None:
        check_given(given, served.feature_names, version)
    answer = client.suggest(
        given if given is not None else str(task_id),
        options.space,
        options.k,
        feature_version=version if given is not None else "",
        max_fit_seconds=options.max_fit_seconds,
        exclude=options.exclude,
        train_rows=options.train_rows,
    )
    task: dict[str, Any] = {"feature_version": version}
    if given is not None:
        task |= {
            "features_file": str(features_file),
            "given": len(given),
            "missing": [n for n in served.feature_names if n not in given],
        }
    else:
        task["task_id"] = task_id
    return answer, task


def suggest_for_table(
    client: WarmstartClient,
    options: SuggestOptions,
    data: Path,
    target: str,
    *,
    task_type: str | None = None,
    remote_describe: bool = False,
    register: bool = False,
    progress: Progress = _quiet,
    probes: bool = True,
) -> tuple[SuggestAnswer, dict[str, Any]]:
    """Suggest for a task given as a table, described here or by the server.

    The served model is asked for first, so a down server, an unknown space or a model of
    meta-features this warmstart cannot compute is refused before the table is described.
    With ``register`` (the client needs a write token) the table is stored on the server
    as a task and asked about by its id, so its reported results count. Where the model
    reads learner probes (and ``probes``), the table is described by the server, which
    runs them (they train the space's learner, which the client does not load).

    Returns:
        The answer, and the task as plain values: the file, target, type, rows, features,
        the rows trained on, the feature version, where it was described, how many probe
        scores it carried and, registered, its ``task_id``.

    Raises:
        InvalidRequestError: The table is unreadable or has no such target column.
        FailedPreconditionError: The served model takes meta-features computed otherwise
            (and ``remote_describe`` is off).
        WarmstartRpcError: The server refused a call.
    """
    built = read_task_table(data, target, task_type)
    X, y, kind = built.X, built.y, built.task.task_type
    served = client.model_info(options.space)
    features: Mapping[str, float]
    task_id = ""
    probing = probes and bool(served.probes)
    if remote_describe or probing:
        doing = f" and running the model's {len(served.probes)} probes" if probing else ""
        with progress(f"describing {data.name} on the server{doing}..."):
            described = client.describe(
                X, y, kind, name=data.name, probe_space=options.space if probing else ""
            )
        features, version = described.as_dict(), described.features.version
        task_id = described.task_id if register else ""
    else:
        from warmstart.metamodel.features import FEATURE_VERSION, compute_meta_features

        if served.feature_version != FEATURE_VERSION:
            raise _other_features(options.space, served.feature_version, served.feature_names)
        with progress(f"computing the meta-features of {data.name}..."):
            features = compute_meta_features(X, y, kind)
        version = FEATURE_VERSION
        if register:
            registered = client.register_task(
                features,
                feature_version=version,
                task_type=kind,
                n_rows=int(X.shape[0]),
                n_features=int(X.shape[1]),
                name=data.name,
            )
            task_id = registered.task.task_id
    answer = client.suggest(
        task_id or features,
        options.space,
        options.k,
        feature_version="" if task_id else version,
        max_fit_seconds=options.max_fit_seconds,
        exclude=options.exclude,
        train_rows=options.train_rows,
    )
    task: dict[str, Any] = {
        "file": str(data),
        "target": target,
        "task_type": kind.value,
        "n_rows": int(X.shape[0]),
        "train_rows": options.train_rows or int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "feature_version": version,
        "described": "on the server" if remote_describe or probing else "locally",
        "probes": sum(name.startswith(PROBE_KEY_PREFIX) for name in features),
    }
    if task_id:
        task["task_id"] = task_id
    return answer, task


def _other_features(space: str, version: str, names: Sequence[str]) -> FailedPreconditionError:
    """Why a table cannot describe a task for a model of another feature set, and what to give."""
    from warmstart.metamodel.features import FEATURE_VERSION

    return FailedPreconditionError(
        f"the model serving {space!r} takes meta-features {version!r}, which this warmstart "
        f"cannot compute from a table (it computes {FEATURE_VERSION!r}): give the task's "
        f"{len(names)} meta-features with --features FILE (a JSON object or a CSV of "
        f"name -> value) or a task the server stores with --task-id, or run with "
        f"--remote-describe if the server computes them; the names are {', '.join(names)}"
    )


def nearest_tasks(answer: SuggestAnswer) -> tuple[NeighbourTask, ...]:
    """The training tasks nearest to the task (the same for every suggestion)."""
    return answer.suggestions[0].nearest_tasks if answer.suggestions else ()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def answer_json(answer: SuggestAnswer, task: Mapping[str, Any]) -> dict[str, Any]:
    """The answer as plain JSON-able values (configs keep their int/float/str/bool types)."""
    return {
        "model_version": answer.model_version,
        "space_id": answer.space_id,
        "out_of_distribution": answer.out_of_distribution,
        "task_id": task.get("task_id"),
        "observations": answer.observations,
        "task": dict(task),
        "nearest_tasks": [
            {"task_id": n.task_id, "name": n.name, "distance": _finite(n.distance)}
            for n in nearest_tasks(answer)
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
