"""``warmstart features | train | evaluate | model``: from records to a checked model bundle."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from warmstart.benchmarks.live import LiveSettings
from warmstart.benchmarks.runner import sigterm_as_interrupt
from warmstart.benchmarks.task_features import describe_suite_tasks
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.bundle import TrainSettings, load_bundle
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import EvalSettings, SeedingSettings
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.service.cli._common import (
    DbOption,
    FeatureVersionOption,
    command_line,
    console,
    csv_items,
    err_console,
    handle_errors,
    open_store,
    print_left_out,
)
from warmstart.service.cli._evaluate_display import print_live, print_pool, print_seeding
from warmstart.service.cli._model_display import FULL_SIZE, shown_training, validation_table
from warmstart.service.cli._sequential import evaluate_sequential
from warmstart.service.evaluation import check_seeding, live_ks, run_live, run_pool, run_seeding
from warmstart.service.settings import data_dir
from warmstart.service.training import train_and_register

features_app = typer.Typer(help="Task meta-features.", no_args_is_help=True)
model_app = typer.Typer(help="Model bundles.", no_args_is_help=True)


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
    with open_store(db) as store, console.status("computing meta-features...") as status:
        computed = describe_suite_tasks(
            store, loaded, names, on_task=lambda name: status.update(f"meta-features of {name}")
        )
    console.print(
        f"{computed} tasks described, {len(names) - computed} already had meta-features "
        f"{FEATURE_VERSION}"
    )


def _surrogate_params(seed: int, n_models: int, n_estimators: int) -> SurrogateParams:
    params = SurrogateParams(seed=seed, n_models=n_models, n_estimators=n_estimators)
    params.check()
    return params


_PROBES_HELP = (
    "How many learner probes the model reads (0: none): the configs are chosen among those "
    "whose probe scores the store holds (`kb build` measures them), and each k's set rule "
    "is chosen with and without reading them."
)


def _train_settings(seed: int, n_models: int, n_estimators: int, probes: int) -> TrainSettings:
    if probes < 0:
        raise InvalidRequestError(f"--probes must be an integer >= 0, got {probes}")
    return TrainSettings(surrogate=_surrogate_params(seed, n_models, n_estimators), probes=probes)


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
    probes: Annotated[int, typer.Option(help=_PROBES_HELP)] = 0,
    feature_version: FeatureVersionOption = FEATURE_VERSION,
    db: DbOption = None,
) -> None:
    """Train a model bundle for one space on every record in the store."""
    settings = _train_settings(seed, n_models, n_estimators, probes)
    with open_store(db) as store, console.status(f"training {space}..."):
        registered = train_and_register(
            store, space, feature_version, settings, models_dir=data_dir() / "models", out=out
        )
    trained, bundle = registered.trained, registered.trained.bundle
    console.print(
        f"trained {bundle.version} on {bundle.training['records']} records of "
        f"{bundle.training['tasks']} tasks, meta-features {feature_version} -> "
        f"{registered.version.path}",
        markup=False,
    )
    print_left_out(trained.left_out, trained.task_names, "training")


EXIT_INTERRUPTED = 130
"""Exit code of a live run stopped by Ctrl-C or SIGTERM (a checkpoint keeps its finished tasks)."""

_MODES = ("pool", "live", "seeding", "sequential")
#: The live-mode flags each other mode also takes.
_SHARED_FLAGS: dict[str, tuple[str, ...]] = {
    "pool": (),
    "seeding": ("--tasks", "--k"),
    "sequential": (
        "--suite",
        "--tasks",
        "--k",
        "--cv-folds",
        "--row-cap",
        "--max-rows",
        "--recommender-settings",
    ),
}


def evaluate(
    space: Annotated[str, typer.Option(help="Search space (learner) name, e.g. lightgbm.")],
    mode: Annotated[
        str,
        typer.Option(
            help="pool: choose among the configs stored for each held-out task (fast); "
            "live: train the suggestions and the baselines on the held-out tasks for real; "
            "seeding: Optuna TPE cold against seeded with the top-k, regret by trial; "
            "sequential: the ask/tell loop against TPE cold and seeded, FLAML CFO and random "
            "search, regret by trial (surrogate benchmarks; live training with --suite)."
        ),
    ] = "pool",
    suite: Annotated[
        str | None,
        typer.Option(
            help="Live, sequential (trains for real): the suite the records were made from, "
            "as for bench run."
        ),
    ] = None,
    tasks: Annotated[
        int | None,
        typer.Option(
            help="Live, seeding, sequential: at most this many held-out tasks, spread over "
            "families."
        ),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option(
            help="Live: configs trained per task and method (default 5); seeding, sequential: "
            "enqueued by the seeded TPE (10)."
        ),
    ] = None,
    trials: Annotated[
        int, typer.Option(help="Seeding, sequential: trials per study (per arm).")
    ] = 50,
    repeats: Annotated[
        int, typer.Option(help="Seeding: TPE seeds per task; sequential: seeds per task and arm.")
    ] = 3,
    cv_folds: Annotated[
        int | None,
        typer.Option(
            help="Live, sequential with --suite: CV folds (default: as the stored records, else 3)."
        ),
    ] = None,
    row_cap: Annotated[
        int | None,
        typer.Option(
            help="Live, sequential with --suite: row cap, 0 for none: the tasks' real sizes "
            "(default: as the stored records, else 2000)."
        ),
    ] = None,
    min_rows: Annotated[
        int | None,
        typer.Option(help="Live: only held-out tasks of at least this many rows."),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            help="Live, sequential with --suite: only held-out tasks of at most this many rows "
            "(live training of 50 trials per arm costs hours on large tasks)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Live: held-out tasks trained at once, each in its own process (default 1)."
        ),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="Live: wall seconds one config's whole CV evaluation may take; each config "
            "then runs in a worker process that is killed past it, and counts as failed "
            "(the worst); warmstart's requests state the limit's share of one fit "
            "(max_fit_seconds: the limit over the CV folds plus one). Default: no limit.",
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Live: keep each held-out task's result in DIR as soon as it is finished; "
            "running the same command again with the same DIR trains only the tasks not "
            "there (an interrupted run resumes). Refused when the settings, records or "
            "suite differ. Default: none (nothing is kept).",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Live with --checkpoint: discard the results in its DIR and start over.",
        ),
    ] = False,
    arms: Annotated[
        str | None,
        typer.Option(
            help="Sequential: the arms to run, comma-separated, among warmstart, tpe_cold, "
            "tpe_seeded, flaml_cfo and random (default: all; a target is judged only where "
            "its two arms run)."
        ),
    ] = None,
    recommender_settings: Annotated[
        Path | None,
        typer.Option(
            help="Sequential: JSON mapping each fold to the ask/tell loop's recommender "
            'settings, e.g. {"0": {"observed_from": 10}} (the observed-loop study\'s --out '
            "file holds its per-fold choices and the split of the tasks they were chosen "
            "on, and is refused on another split; default: the defaults)."
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
    probes: Annotated[
        int,
        typer.Option(
            help="Pool and live: "
            + _PROBES_HELP
            + " Live mode trains them on each held-out task, as the service would."
        ),
    ] = 0,
    feature_version: FeatureVersionOption = FEATURE_VERSION,
    db: DbOption = None,
) -> None:
    """Evaluate leave-family-out against the baselines (pool, live, seeding or sequential);
    write a report."""
    if mode not in _MODES:
        raise InvalidRequestError(f"--mode must be pool, live, seeding or sequential, got {mode!r}")
    if folds < 2:
        raise InvalidRequestError(f"--folds must be >= 2, got {folds}")
    train = _train_settings(seed, n_models, n_estimators, probes)
    if probes and mode not in ("pool", "live"):
        raise InvalidRequestError("--probes applies to --mode pool and live only")
    if arms is not None and mode != "sequential":
        raise InvalidRequestError("--arms applies to --mode sequential only")
    if mode in _SHARED_FLAGS:
        live_only = {
            "--suite": suite,
            "--tasks": tasks,
            "--k": k,
            "--cv-folds": cv_folds,
            "--row-cap": row_cap,
            "--min-rows": min_rows,
            "--max-rows": max_rows,
            "--workers": workers,
            "--time-limit": time_limit,
            "--checkpoint": checkpoint,
            "--fresh": True if fresh else None,
            "--recommender-settings": recommender_settings,
            "--no-flaml": None if flaml else True,
        }
        given = [n for n, v in live_only.items() if v is not None and n not in _SHARED_FLAGS[mode]]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise InvalidRequestError(f"{', '.join(given)} {verb} to --mode live only")
    if mode == "pool":
        settings = EvalSettings(n_folds=folds, seed=seed, train=train)
        with open_store(db) as store, console.status("evaluating...") as status:
            pool = run_pool(
                store, space, feature_version, settings, out, command=command_line(),
                progress=status.update,
            )  # fmt: skip
        print_pool(pool)
    elif mode == "seeding":
        seeding = SeedingSettings(
            n_trials=trials, k=10 if k is None else k, repeats=repeats, max_tasks=tasks,
            n_folds=folds, seed=seed, train=train,
        )  # fmt: skip
        check_seeding(seeding)
        with open_store(db) as store, console.status("seeding experiment...") as status:
            experiment = run_seeding(
                store, space, feature_version, seeding, out, command=command_line(),
                progress=status.update,
            )  # fmt: skip
        print_seeding(experiment)
    elif mode == "sequential":
        evaluate_sequential(
            space, feature_version=feature_version, folds=folds, seed=seed, train=train,
            k=10 if k is None else k, trials=trials, repeats=repeats, tasks=tasks, suite=suite,
            cv_folds=cv_folds, row_cap=row_cap, max_rows=max_rows, out=out, db=db,
            command=command_line(), recommender_settings=recommender_settings,
            arms=None if arms is None else csv_items(arms),
        )  # fmt: skip
    else:
        if suite is None:
            raise InvalidRequestError(
                "--mode live needs --suite: the suite the records were made from "
                "(e.g. pmlb:PATH), to load the held-out tasks' data"
            )
        live = LiveSettings(
            ks=live_ks(5 if k is None else k), n_folds=folds, seed=seed, max_tasks=tasks,
            cv_folds=cv_folds, row_cap=row_cap, flaml=flaml, train=train,
            workers=1 if workers is None else workers, time_limit=time_limit,
            min_rows=min_rows, max_rows=max_rows,
        )  # fmt: skip
        live.check()
        if fresh and checkpoint is None:
            raise InvalidRequestError(
                "--fresh discards a checkpoint: give it with --checkpoint DIR"
            )
        # SIGTERM (a killed session, a scheduler) stops the run as Ctrl-C does.
        with sigterm_as_interrupt(), open_store(db, create=False) as store:
            try:
                result = run_live(
                    store, suite, space, feature_version, live, out, command=command_line(),
                    progress=_timestamped, checkpoint=checkpoint, fresh=fresh,
                )  # fmt: skip
            except KeyboardInterrupt:
                kept = (
                    f"finished held-out tasks are kept in {checkpoint}; run the same command "
                    "again to resume"
                    if checkpoint is not None
                    else "nothing was kept (--checkpoint DIR keeps finished tasks)"
                )
                err_console.print(f"interrupted: {kept}", markup=False)
                raise typer.Exit(EXIT_INTERRUPTED) from None
        print_live(result)


def _timestamped(line: str) -> None:
    """Live runs take minutes to hours: a timestamped log line per step, not a spinner."""
    console.print(f"[{datetime.now():%H:%M:%S}] {line}", markup=False)


@model_app.command("info")
@handle_errors
def info(
    path: Annotated[Path, typer.Argument(help="A model bundle file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what a bundle holds, after checking it (of any meta-feature version)."""
    bundle = load_bundle(path)
    full = bundle.full_size_rules
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
        "set_rules": {str(k): rule for k, rule in bundle.set_rules.items()},
        "set_rules_full_size": None
        if full is None
        else {"above_rows": full[0], "rules": {str(k): r for k, r in full[1].items()}},
        "probes": [digest for digest, _ in bundle.probes],
        "reads_probes": bundle.reads_probes,
    }
    if as_json:
        console.print_json(json.dumps(summary))
        return
    validation = {k: v for k, v in bundle.metrics.items() if k.startswith("validation.")}
    summary["training"] = shown_training(bundle.training)
    summary["metrics"] = {k: v for k, v in bundle.metrics.items() if k not in validation}
    for key, value in summary.items():
        console.print(f"{key:<18} {value}", markup=False)
    if validation:
        main = {k: v for k, v in validation.items() if not k.startswith(FULL_SIZE)}
        console.print(validation_table(main, bundle.set_rules))
    if full is not None:
        title = "validation at full size"
        console.print(validation_table(validation, full[1], prefix=FULL_SIZE, title=title))


train = handle_errors(train)
evaluate = handle_errors(evaluate)
