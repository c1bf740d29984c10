"""``warmstart features | train | evaluate | model``: from records to a checked model bundle."""

from __future__ import annotations

import json
import shlex
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warmstart.benchmarks.live import (
    SINGLE_CONFIG_METHODS,
    LiveSettings,
    evaluate_live,
    write_live_report,
)
from warmstart.benchmarks.tasks import Suite, load_suite
from warmstart.metamodel.bundle import TrainSettings, load_bundle, train_space
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import METHODS, EvalSettings, evaluate_pool, write_pool_report
from warmstart.metamodel.features import FEATURE_VERSION, describe_task
from warmstart.metamodel.recommend import MAX_K
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import ModelVersion
from warmstart.service.cli._common import DbOption, console, handle_errors, open_store
from warmstart.service.cli._seeding import evaluate_seeding
from warmstart.service.settings import data_dir

features_app = typer.Typer(help="Task meta-features.", no_args_is_help=True)
model_app = typer.Typer(help="Model bundles.", no_args_is_help=True)

FeatureVersionOption = Annotated[
    str,
    typer.Option(
        "--feature-version",
        help=f"Meta-feature set: {FEATURE_VERSION} (computed by warmstart) or a version "
        "imported with `warmstart features import`, e.g. openml-q1.",
    ),
]


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


@features_app.command("compute")
@handle_errors
def features_compute(
    suite: Annotated[str, typer.Option(help="Task suite, as for bench run.")],
    tasks: Annotated[int | None, typer.Option(help="At most this many tasks.")] = None,
    db: DbOption = None,
) -> None:
    """Compute and store meta-features of a suite's tasks (skipping those already stored)."""
    loaded = load_suite(suite)
    names = [info.name for info in loaded.list_tasks()][:tasks]
    with open_store(db) as store:
        computed = describe_suite_tasks(store, loaded, names)
    console.print(
        f"{computed} tasks described, {len(names) - computed} already had meta-features "
        f"{FEATURE_VERSION}"
    )


def describe_suite_tasks(store: RecordStore, suite: Suite, names: Sequence[str]) -> int:
    """Store the tasks ``names`` of a suite and their meta-features, where not stored yet.

    Returns:
        How many tasks' meta-features were computed.
    """
    have = set(store.list_task_features(FEATURE_VERSION))
    stored = {task.task_id for task in store.list_tasks()}
    computed = 0
    with console.status("computing meta-features...") as status:
        for name in names:
            status.update(f"meta-features of {name}")
            data = suite.load(name)
            # Byte-identical datasets share a task id (and so a stored name): one is enough.
            if data.task.task_id not in stored:
                store.put_task(data.task)
                stored.add(data.task.task_id)
            if data.task.task_id in have:
                continue
            store.put_task_features(
                [describe_task(data.task.task_id, data.X, data.y, data.task.task_type)]
            )
            have.add(data.task.task_id)
            computed += 1
    return computed


def _surrogate_params(seed: int, n_models: int, n_estimators: int) -> SurrogateParams:
    params = SurrogateParams(seed=seed, n_models=n_models, n_estimators=n_estimators)
    params.check()
    return params


def train(
    space: Annotated[str, typer.Option(help="Search space (learner) name, e.g. lightgbm.")],
    out: Annotated[
        Path | None, typer.Option(help="Bundle file (default: models/VERSION.wsb in the data dir).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Training seed (same seed, same model).")] = 0,
    n_models: Annotated[int, typer.Option(help="Ensemble members (uncertainty).")] = 5,
    n_estimators: Annotated[
        int,
        typer.Option(
            help="Boosting rounds per member over task and config (after 80 config-only rounds)."
        ),
    ] = SurrogateParams.n_estimators,
    feature_version: FeatureVersionOption = FEATURE_VERSION,
    db: DbOption = None,
) -> None:
    """Train a model bundle for one space on every record in the store."""
    settings = TrainSettings(surrogate=_surrogate_params(seed, n_models, n_estimators))
    with open_store(db) as store:
        with console.status(f"training {space}..."):
            trained = train_space(store, space, feature_version, settings)
        bundle = trained.bundle
        path = out or data_dir() / "models" / f"{bundle.version}.wsb"
        digest = bundle.save(path)
        store.add_model_version(
            ModelVersion(bundle.version, space, str(path.resolve()), digest, bundle.created_at)
        )
    console.print(
        f"trained {bundle.version} on {bundle.training['records']} records of "
        f"{bundle.training['tasks']} tasks, meta-features {feature_version} -> {path}",
        markup=False,
    )
    print_left_out(trained.left_out, trained.task_names, "training")


_MODES = ("pool", "live", "seeding")
_REPORT_KS = (1, 3, 5, 10)


def evaluate(
    space: Annotated[str, typer.Option(help="Search space (learner) name, e.g. lightgbm.")],
    mode: Annotated[
        str,
        typer.Option(
            help="pool: choose among the configs stored for each held-out task (fast); "
            "live: train the suggestions and the baselines on the held-out tasks for real; "
            "seeding: Optuna TPE cold against seeded with the top-k, regret by trial."
        ),
    ] = "pool",
    suite: Annotated[
        str | None,
        typer.Option(help="Live: the suite the records were made from, as for bench run."),
    ] = None,
    tasks: Annotated[
        int | None,
        typer.Option(help="Live, seeding: at most this many held-out tasks, spread over families."),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option(
            help="Live: configs trained per task and method (default 5); seeding: enqueued (10)."
        ),
    ] = None,
    trials: Annotated[int, typer.Option(help="Seeding: Optuna trials per study.")] = 50,
    repeats: Annotated[int, typer.Option(help="Seeding: TPE seeds per task.")] = 3,
    cv_folds: Annotated[
        int | None, typer.Option(help="Live: CV folds (default: as the stored records, else 3).")
    ] = None,
    row_cap: Annotated[
        int | None,
        typer.Option(
            help="Live: row cap, 0 for none: the tasks' real sizes "
            "(default: as the stored records, else 2000)."
        ),
    ] = None,
    flaml: Annotated[
        bool,
        typer.Option(
            help="Live: FLAML's zero-shot LightGBM and k configs sampled from FLAML's "
            "LightGBM space as baselines (if installed)."
        ),
    ] = True,
    folds: Annotated[int, typer.Option(help="Leave-family-out folds.")] = 5,
    out: Annotated[Path, typer.Option(help="Folder for the report and plots.")] = Path(
        "docs/results"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the folds and of the training.")] = 0,
    n_models: Annotated[int, typer.Option(help="Ensemble members.")] = 5,
    n_estimators: Annotated[
        int,
        typer.Option(
            help="Boosting rounds per member over task and config (after 80 config-only rounds)."
        ),
    ] = SurrogateParams.n_estimators,
    feature_version: FeatureVersionOption = FEATURE_VERSION,
    db: DbOption = None,
) -> None:
    """Evaluate leave-family-out against the baselines (pool, live or seeding); write a report."""
    if mode not in _MODES:
        raise InvalidRequestError(f"--mode must be pool, live or seeding, got {mode!r}")
    if folds < 2:
        raise InvalidRequestError(f"--folds must be >= 2, got {folds}")
    train_settings = TrainSettings(surrogate=_surrogate_params(seed, n_models, n_estimators))
    live_only = {
        "--suite": suite,
        "--tasks": tasks,
        "--k": k,
        "--cv-folds": cv_folds,
        "--row-cap": row_cap,
        "--no-flaml": None if flaml else True,
    }
    if mode == "seeding":
        given = [n for n, v in live_only.items() if v is not None and n not in ("--tasks", "--k")]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise InvalidRequestError(f"{', '.join(given)} {verb} to --mode live only")
        evaluate_seeding(
            space,
            feature_version=feature_version,
            folds=folds,
            seed=seed,
            train=train_settings,
            k=10 if k is None else k,
            trials=trials,
            repeats=repeats,
            tasks=tasks,
            out=out,
            db=db,
            command=_command(),
        )
        return
    if mode == "pool":
        given = [name for name, value in live_only.items() if value is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise InvalidRequestError(f"{', '.join(given)} {verb} to --mode live only")
        _evaluate_pool(space, feature_version, folds, out, seed, train_settings, db)
        return
    if suite is None:
        raise InvalidRequestError(
            "--mode live needs --suite: the suite the records were made from "
            "(e.g. pmlb:PATH), to load the held-out tasks' data"
        )
    top = 5 if k is None else k
    if not 1 <= top <= MAX_K:
        raise InvalidRequestError(f"--k must be in [1, {MAX_K}], got {top}")
    settings = LiveSettings(
        ks=tuple(sorted({x for x in _REPORT_KS if x <= top} | {top})),
        n_folds=folds,
        seed=seed,
        max_tasks=tasks,
        cv_folds=cv_folds,
        row_cap=row_cap,
        flaml=flaml,
        train=train_settings,
    )
    settings.check()
    _evaluate_live(space, feature_version, load_suite(suite), settings, out, db)


def _command() -> str:
    return "warmstart " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _evaluate_pool(
    space: str,
    feature_version: str,
    folds: int,
    out: Path,
    seed: int,
    train: TrainSettings,
    db: str | None,
) -> None:
    settings = EvalSettings(n_folds=folds, seed=seed, train=train)
    with open_store(db) as store, console.status("evaluating...") as status:
        result = evaluate_pool(store, space, feature_version, settings, progress=status.update)
    report = write_pool_report(result, out, command=_command())
    table = Table("method", *(f"regret@{k}" for k in settings.ks), title=f"{space}, pool mode")
    for method in METHODS:
        table.add_row(method, *(f"{result.mean_regret(method, k):.4f}" for k in settings.ks))
    console.print(table)
    found = result.dependence
    if found is not None:
        console.print(
            f"task dependence over {found.n_fixed} configs: Spearman predicted vs measured "
            f"{found.spearman:.3f}; agreement across tasks predicted "
            f"{found.predicted_agreement:.3f}, measured {found.measured_agreement:.3f}; "
            f"{found.distinct_top5} distinct configs in the top-5 lists",
            markup=False,
        )
    print_left_out(result.left_out, {}, "the evaluation")
    per_task = report.with_name(f"{space}_pool_tasks.csv")
    console.print(
        f"{len(result.tasks)} held-out tasks; report: {report}; per task: {per_task}",
        markup=False,
    )


def _evaluate_live(
    space: str,
    feature_version: str,
    suite: Suite,
    settings: LiveSettings,
    out: Path,
    db: str | None,
) -> None:
    def say(line: str) -> None:
        # Live runs take minutes to hours: a timestamped log line per step, not a spinner.
        console.print(f"[{datetime.now():%H:%M:%S}] {line}", markup=False)

    with open_store(db, create=False) as store:
        result = evaluate_live(store, suite, space, feature_version, settings, progress=say)
    report = write_live_report(result, out, command=_command())
    ks = settings.ks
    table = Table(
        "method",
        *(f"regret@{k}" for k in ks),
        *(f"ours best-of-{k}: W/T/L" for k in ks),
        title=f"{space}, live mode, {len(result.tasks)} held-out tasks",
    )
    for method in result.methods:
        regrets = (
            f"{result.mean_regret(method, k):.4f}"
            if k == 1 or method not in SINGLE_CONFIG_METHODS
            else "="
            for k in ks
        )
        records = (
            [""] * len(ks) if method == "warmstart" else [str(result.record(method, k)) for k in ks]
        )
        table.add_row(method, *regrets, *records)
    console.print(table)
    buckets = Table(
        "rows used",
        "tasks",
        "method",
        *(f"regret@{k}" for k in ks),
        title="by size bucket of the rows used",
    )
    for bucket, tasks in result.by_bucket().items():
        for method in result.methods:
            buckets.add_row(
                bucket,
                str(len(tasks)),
                method,
                *(
                    f"{result.mean_regret(method, k, tasks):.4f}"
                    if k == 1 or method not in SINGLE_CONFIG_METHODS
                    else "="
                    for k in ks
                ),
            )
    console.print(buckets)
    for baseline in ("default", "flaml_zeroshot"):
        if baseline in result.methods:
            record = result.record(baseline, 1)
            share = record.win_share
            where = "never differ" if share != share else f"{share:.0%} wins where they differ"
            console.print(
                f"warmstart top-1 against {baseline}: {record} W/T/L ({where})", markup=False
            )
    if "flaml_space" in result.methods:
        at = 5 if 5 in ks else max(ks)
        console.print(
            f"warmstart best-of-{at} regret / flaml_space best-of-{at}: "
            f"{result.regret_ratio('warmstart', 'flaml_space', at):.2f}",
            markup=False,
        )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"protocol: {result.protocol_note}; report: {report}", markup=False)


@model_app.command("info")
@handle_errors
def info(
    path: Annotated[Path, typer.Argument(help="A model bundle file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what a bundle holds, after checking it (of any meta-feature version)."""
    bundle = load_bundle(path)
    summary = {
        "version": bundle.version,
        "space": {"name": bundle.space.name, "space_id": bundle.space.space_id},
        "feature_version": bundle.feature_version,
        "feature_count": len(bundle.feature_names),
        "training": bundle.training,
        "metrics": bundle.metrics,
        "libraries": bundle.libraries,
        "created_at": bundle.created_at.isoformat(),
        "portfolio_size": len(bundle.portfolio),
        "ensemble_members": len(bundle.surrogate.members),
    }
    if as_json:
        console.print_json(json.dumps(summary))
        return
    for key, value in summary.items():
        console.print(f"{key:<18} {value}", markup=False)


train = handle_errors(train)
evaluate = handle_errors(evaluate)
