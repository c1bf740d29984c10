"""``warmstart demo``: the whole loop on one table, in this process, no server needed.

Reads and describes the table here (as ``warmstart suggest`` does), loads a
model bundle (by default the shipped ``kb/models/{space}.wsb``), asks it for k
configs, then trains the learner's library default and every suggestion with
the runner's protocol (k-fold cross-validation, a row cap and seed 0, as the
benchmark records were made) and prints what the model predicted beside what
was measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from warmstart.benchmarks.kb import KB_MODELS, default_kb_dir
from warmstart.benchmarks.learners import Learner, get_learner
from warmstart.benchmarks.runner import Protocol, evaluate_config
from warmstart.benchmarks.tasks import TaskData
from warmstart.metamodel.bundle import ModelBundle, load_bundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION, compute_meta_features
from warmstart.metamodel.metrics import primary_metric
from warmstart.metamodel.recommend import MAX_K, Recommendation, Recommender
from warmstart.metamodel.spaces import make_search_space
from warmstart.metamodel.types import ConfigValue, RecordStatus, TaskType
from warmstart.service.cli._common import console, err_console, handle_errors
from warmstart.service.suggesting import read_task_table

__all__ = ["DemoRow", "default_demo_data", "demo"]

SEED = 0
_METRIC_LABEL = {"roc_auc": "ROC AUC", "r2": "R²"}


def default_demo_data() -> Path:
    """The example table: ``../shared/datasets/pmlb/breast_cancer.tsv.gz`` beside the checkout."""
    return default_kb_dir().parent.parent / "shared" / "datasets" / "pmlb" / "breast_cancer.tsv.gz"


@dataclass(frozen=True)
class DemoRow:
    """One trained config: where it came from, what was predicted and what was measured."""

    label: str
    origin: str
    config: Mapping[str, ConfigValue]
    predicted: float
    score: float
    fit_seconds: float
    error: str | None


def _load_task(data: Path, target: str) -> TaskData:
    if not data.is_file():
        raise InvalidRequestError(
            f"--data {data}: no such file (the default example is the PMLB table "
            f"{default_demo_data()}; give a table with --data FILE --target COLUMN)"
        )
    return read_task_table(data, target)


def _load_model(model: Path, space: str, learner: Learner) -> ModelBundle:
    if not model.is_file():
        raise InvalidRequestError(
            f"--model {model}: no such file (the shipped models are kb/{KB_MODELS}/*.wsb of "
            "the source tree; give one with --model PATH)"
        )
    bundle = load_bundle(model, feature_version=FEATURE_VERSION)
    if bundle.space.name != space:
        raise InvalidRequestError(
            f"--model {model} is a model of space {bundle.space.name!r}, not {space!r}"
        )
    expected = make_search_space(learner.name, learner.search_space()).space_id
    if bundle.space.space_id != expected:
        raise FailedPreconditionError(
            f"the model's space {space!r} ({bundle.space.space_id}) is not the learner's "
            f"current space ({expected}): its suggestions could not be trained"
        )
    return bundle


def _predicted(
    recommender: Recommender, features: Mapping[str, float], config: Mapping[str, ConfigValue]
) -> float:
    """The model's predicted normalised score of one config on the task."""
    mean, _ = recommender.predict(features, [config])
    return float(mean[0])


def _measure(
    data: TaskData,
    learner: Learner,
    space_id: str,
    config: Mapping[str, ConfigValue],
    protocol: Protocol,
) -> tuple[float, float, str | None]:
    """Score and mean fit seconds of one config through the runner's protocol."""
    result = evaluate_config(data, learner, space_id, config, protocol, SEED, suite="demo")
    fit = math.nan if result.fit_seconds is None else result.fit_seconds
    if result.status is not RecordStatus.OK or result.score is None:
        return math.nan, fit, result.error or result.status.value
    return float(result.score), fit, None


def _compact(config: Mapping[str, ConfigValue]) -> str:
    def show(value: ConfigValue) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{name}={show(value)}" for name, value in config.items())


def _fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "failed"


def _print_rows(rows: Sequence[DemoRow], metric: str) -> None:
    table = Table(box=box.SIMPLE)
    for column in ("config", "origin", "predicted", f"measured {metric}", "fit s"):
        table.add_column(column, justify="left" if column in ("config", "origin") else "right")
    for row in rows:
        fit = f"{row.fit_seconds:.3f}" if math.isfinite(row.fit_seconds) else "?"
        table.add_row(row.label, row.origin, _fmt(row.predicted, 3), _fmt(row.score), fit)
    console.print(table)
    for row in rows:
        console.print(f"  {row.label}: {_compact(row.config)}", markup=False)
        if row.error:
            console.print(f"    failed: {row.error}", markup=False, style="red")


def _verdict(rows: Sequence[DemoRow], metric: str) -> str:
    default, suggested = rows[0], [r for r in rows[1:] if math.isfinite(r.score)]
    if not suggested:
        return "no suggestion could be measured"
    best = max(suggested, key=lambda r: r.score)
    which = f"best suggestion {best.label} ({best.origin}): {metric} {best.score:.4f}"
    if not math.isfinite(default.score):
        return f"{which}; the library default failed"
    gap = best.score - default.score
    if abs(gap) < 5e-5:
        how = "ties the default"
    else:
        how = f"{'beats' if gap > 0 else 'trails'} the default by {abs(gap):.4f}"
    return f"{which} {how} ({default.score:.4f})"


def _training_note(recommendation: Recommendation, task_id: str) -> str | None:
    # The same data give the same task id; another task at distance 0 is a duplicate table.
    same = [n for n in recommendation.nearest_tasks if n.task_id == task_id]
    same += [n for n in recommendation.nearest_tasks if n.distance <= 1e-9]
    if not same:
        return None
    nearest = same[0]
    return (
        f"note: this dataset is one of the model's training tasks (nearest task "
        f"{nearest.name or nearest.task_id} at distance {nearest.distance:.3g}): the model "
        "has seen its records, so this is not a held-out test"
    )


@handle_errors
def demo(
    data: Annotated[
        Path | None,
        typer.Option(
            help="The table: .csv, .tsv (optionally .gz) or .parquet. "
            "Default: ../shared/datasets/pmlb/breast_cancer.tsv.gz beside the checkout.",
            show_default=False,
        ),
    ] = None,
    target: Annotated[str, typer.Option(help="The target column.")] = "target",
    space: Annotated[str, typer.Option(help="Search space (learner) name.")] = "lightgbm",
    k: Annotated[int, typer.Option("-k", "--k", help=f"How many configs (1 to {MAX_K}).")] = 3,
    model: Annotated[
        Path | None,
        typer.Option(
            help="Model bundle. Default: kb/models/{space}.wsb of the source tree.",
            show_default=False,
        ),
    ] = None,
    cv_folds: Annotated[int, typer.Option(help="k of the k-fold cross-validation.")] = 3,
    row_cap: Annotated[int, typer.Option(help="Largest number of rows evaluated.")] = 2000,
) -> None:
    """Run the loop end to end on a table: describe, suggest, then train and compare.

    No server or database: the table is described here, the model bundle
    suggests k configs, and the library default and each suggestion are
    trained with the benchmark protocol (k-fold CV, row cap, seed 0).
    """
    if not 1 <= k <= MAX_K:
        raise InvalidRequestError(f"-k must be in [1, {MAX_K}], got {k}")
    if cv_folds < 2:
        raise InvalidRequestError(f"--cv-folds must be at least 2, got {cv_folds}")
    if row_cap < 1:
        raise InvalidRequestError(f"--row-cap must be at least 1, got {row_cap}")
    table = data if data is not None else default_demo_data()
    bundle_path = model if model is not None else default_kb_dir() / KB_MODELS / f"{space}.wsb"
    task = _load_task(table, target)
    learner = get_learner(space)
    bundle = _load_model(bundle_path, space, learner)
    kind: TaskType = task.task.task_type
    metric = _METRIC_LABEL.get(primary_metric(kind), primary_metric(kind))
    console.print(
        f"task {table} (target {target}): {kind.value}, {task.X.shape[0]} rows x "
        f"{task.X.shape[1]} features",
        markup=False,
    )
    with err_console.status(f"computing the meta-features of {table.name}..."):
        features = compute_meta_features(task.X, task.y, kind)
    recommender = bundle.recommender()
    recommendation = recommender.suggest(features, k)
    console.print(f"model {bundle.version} ({bundle_path}), space {space}", markup=False)
    if recommendation.out_of_distribution:
        console.print("out of distribution: yes (only robust candidates are offered)")
    if recommendation.nearest_tasks:
        shown = ", ".join(
            f"{n.name or n.task_id} ({n.distance:.3g})" for n in recommendation.nearest_tasks[:3]
        )
        console.print(f"nearest training tasks (distance): {shown}", markup=False)
    note = _training_note(recommendation, task.task.task_id)
    if note:
        console.print(note, style="yellow", markup=False)
    protocol = Protocol(folds=cv_folds, row_cap=row_cap)
    console.print(f"protocol: {protocol.describe()}, seed {SEED}", markup=False)
    default = learner.default_config()
    plan: list[tuple[str, str, Mapping[str, ConfigValue], float]] = [
        ("default", "library default", default, _predicted(recommender, features, default))
    ]
    plan += [
        (f"#{i}", s.origin.value, s.config, s.predicted_score)
        for i, s in enumerate(recommendation.suggestions, start=1)
    ]
    rows: list[DemoRow] = []
    for label, origin, config, predicted in plan:
        with err_console.status(f"training {label} ({origin})..."):
            score, fit, error = _measure(task, learner, bundle.space.space_id, config, protocol)
        rows.append(DemoRow(label, origin, config, predicted, score, fit, error))
    _print_rows(rows, metric)
    console.print(
        "predicted: the model's normalised score (1 = the best config seen on a training "
        "task); fit s: mean seconds per fold",
        style="dim",
    )
    console.print(_verdict(rows, metric), markup=False)
