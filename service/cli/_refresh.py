"""``warmstart refresh``: evaluate, retrain, gate and publish a space's model; for cron.

The workflow is :func:`warmstart.service.refresh.refresh_space`; this module
parses the flags, shows its progress (:mod:`warmstart.service.cli._refresh_display`),
optionally tells a running server to reload, and exits with a code a scheduler
can act on. SIGTERM is handled like Ctrl-C from start to end: before the
publish, the lock is released, the outcome recorded and the exit code is 130; a
stop that comes while the new version is being registered is ignored (the
publish completes); one that comes while telling the server ends the notice,
with exit code 130 and the version published. Exit codes: see :data:`EXIT_CODES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warmstart.benchmarks.runner import Protocol, resolve_workers, sigterm_as_interrupt
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.refresh import GateSettings, SelectionSettings
from warmstart.metamodel.store import LockBusyError
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.service.cli._common import (
    AdminTokenOption,
    DbOption,
    FeatureVersionOption,
    NotifyOption,
    TlsRootOption,
    console,
    err_console,
    handle_errors,
    notify_server,
    open_store,
)
from warmstart.service.cli._refresh_display import RefreshDisplay, print_result
from warmstart.service.refresh import RefreshOptions, RefreshOutcome, refresh_space
from warmstart.service.settings import data_dir

__all__ = ["EXIT_CODES", "refresh"]

EXIT_PUBLISHED = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_REFUSED = 3
EXIT_LOCKED = 4
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_PUBLISHED: "published a new model, or nothing new to learn (serving model kept)",
    EXIT_ERROR: "error (store, suite, training...); the serving model is untouched",
    EXIT_INVALID: "invalid flags",
    EXIT_REFUSED: "the gate refused the new model (it was worse); the serving model is kept",
    EXIT_LOCKED: "another refresh of this space holds the lock; nothing was done",
    EXIT_INTERRUPTED: (
        "stopped by SIGINT/SIGTERM; finished evaluations kept, nothing published (or, stopped "
        "while notifying the server, published: the output says which)"
    ),
}

_EXIT_OF = {
    RefreshOutcome.PUBLISHED: EXIT_PUBLISHED,
    RefreshOutcome.UP_TO_DATE: EXIT_PUBLISHED,
    RefreshOutcome.REFUSED: EXIT_REFUSED,
    RefreshOutcome.INTERRUPTED: EXIT_INTERRUPTED,
}


@handle_errors
def refresh(
    space: Annotated[str, typer.Option(help="Search space (learner) name, e.g. lightgbm.")],
    suite: Annotated[str, typer.Option(help="Task suite to draw tasks from, as for bench run.")],
    budget: Annotated[int, typer.Option(help="Evaluations to run at most.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the choice, the gate and training.")] = 0,
    new_task_configs: Annotated[int, typer.Option(help="Configs per new task at most.")] = 8,
    per_task: Annotated[int, typer.Option(help="Evaluations per known task at most.")] = 3,
    tolerance: Annotated[
        float, typer.Option(help="Publish if the new mean regret@k <= serving's + this.")
    ] = 0.0,
    k: Annotated[int, typer.Option("--k", help="The k of the gate's regret@k.")] = 5,
    gate_folds: Annotated[int, typer.Option(help="Leave-family-out folds of the gate.")] = 5,
    n_models: Annotated[int, typer.Option(help="Ensemble members.")] = 5,
    n_estimators: Annotated[
        int,
        typer.Option(
            help="Boosting rounds per member over task and config (after 80 config-only rounds)."
        ),
    ] = SurrogateParams.n_estimators,
    folds: Annotated[int, typer.Option(help="k of each evaluation's k-fold CV.")] = 5,
    row_cap: Annotated[int, typer.Option(help="Rows used per task at most; 0: all.")] = 10_000,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: CPU count).")
    ] = None,
    dask: Annotated[
        str | None, typer.Option(help="Dask scheduler address, or local:N.", show_default=False)
    ] = None,
    time_limit: Annotated[float, typer.Option(help="Wall seconds per evaluation.")] = 300.0,
    memory_limit: Annotated[int, typer.Option(help="MiB per evaluation; 0: no limit.")] = 4096,
    models_dir: Annotated[
        Path | None, typer.Option(help="Where bundles go (default: models/ in the data dir).")
    ] = None,
    lock_ttl: Annotated[
        float, typer.Option(help="Lease of the refresh lock in seconds (> the longest refresh).")
    ] = 6 * 3600.0,
    notify: NotifyOption = None,
    admin_token: AdminTokenOption = None,
    tls_root_cert: TlsRootOption = None,
    feature_version: FeatureVersionOption = FEATURE_VERSION,
    db: DbOption = None,
) -> None:
    """Evaluate new tasks and uncertain configs, retrain, publish if not worse; for cron.

    Exit codes: 0 published or nothing new; 1 error; 2 invalid flags; 3 refused by
    the gate; 4 another refresh holds the lock; 130 interrupted.
    """
    params = SurrogateParams(seed=seed, n_models=n_models, n_estimators=n_estimators)
    options = RefreshOptions(
        space=space,
        suite=suite,
        models_dir=(models_dir or data_dir() / "models").expanduser().resolve(),
        selection=SelectionSettings(
            budget=budget, new_task_configs=new_task_configs, per_task=per_task, seed=seed
        ),
        gate=GateSettings(
            k=k, n_folds=gate_folds, tolerance=tolerance, seed=seed, train=TrainSettings(params)
        ),
        protocol=Protocol(folds=folds, row_cap=row_cap or None),
        workers=resolve_workers(workers),
        dask=dask,
        time_limit=time_limit,
        memory_limit=memory_limit,
        lock_ttl=lock_ttl,
        feature_version=feature_version,
    )
    options.check()  # invalid flags: exit 2 before the store is opened
    # SIGTERM stops the job as Ctrl-C does from here to the end, the lock and the notice
    # included, so a scheduler's stop always ends with the lock freed and an exit code.
    with open_store(db) as store, sigterm_as_interrupt(), RefreshDisplay() as display:
        try:
            result = refresh_space(store, options, display)
        except LockBusyError as exc:
            display.stop()
            err_console.print(f"refresh not started: {exc}", markup=False)
            raise typer.Exit(EXIT_LOCKED) from None
        except KeyboardInterrupt:
            display.stop()
            console.print("interrupted before the refresh started: nothing was done")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        display.stop()
        print_result(result)
        if result.published is not None and notify:
            try:
                notify_server(notify, admin_token, tls_root_cert, result.published.version)
            except KeyboardInterrupt:
                err_console.print(
                    f"interrupted while notifying {notify}: {result.published.version} is "
                    "published and serving in the store; the server's watcher or its next "
                    "start picks it up",
                    markup=False,
                )
                raise typer.Exit(EXIT_INTERRUPTED) from None
    if _EXIT_OF[result.outcome] != EXIT_PUBLISHED:
        raise typer.Exit(_EXIT_OF[result.outcome])
