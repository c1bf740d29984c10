"""`warmstart evaluate --mode sequential`: the ask/tell loop against optimizers, regret by trial."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from warmstart.benchmarks.sequential import (
    ARMS,
    LiveOptions,
    SequentialResult,
    SequentialSettings,
    load_fold_split,
    load_recommender_by_fold,
    run_sequential,
    run_sequential_live,
    write_sequential_report,
)
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.cli._common import console, open_store

__all__ = ["evaluate_sequential"]

_MARKS = (1, 3, 5, 10, 20, 30, 50)


def evaluate_sequential(
    space: str,
    *,
    feature_version: str,
    folds: int,
    seed: int,
    train: TrainSettings,
    k: int,
    trials: int,
    repeats: int,
    tasks: int | None,
    suite: str | None,
    cv_folds: int | None,
    row_cap: int | None,
    out: Path,
    db: str | None,
    command: str,
    max_rows: int | None = None,
    recommender_settings: Path | None = None,
    arms: tuple[str, ...] | None = None,
) -> SequentialResult:
    """Run the sequential evaluation (live when ``suite`` is given), print it, write the report.

    Raises:
        InvalidRequestError: Settings out of range, or live-only options without ``suite``.
        FailedPreconditionError: Too few families, or Optuna or FLAML missing.
    """
    if suite is None and (cv_folds is not None or row_cap is not None or max_rows is not None):
        raise InvalidRequestError(
            "--cv-folds, --row-cap and --max-rows apply to live training: give --suite, the "
            "suite the records were made from (without it the arms run on surrogate benchmarks)"
        )
    settings = SequentialSettings(
        n_trials=trials,
        k_seed=k,
        repeats=repeats,
        max_tasks=tasks,
        n_folds=folds,
        seed=seed,
        train=train,
        recommender_by_fold=(
            {} if recommender_settings is None else load_recommender_by_fold(recommender_settings)
        ),
        recommender_split=(
            {} if recommender_settings is None else load_fold_split(recommender_settings)
        ),
        arms=ARMS if arms is None else arms,
    )
    settings.check()
    with open_store(db) as store, console.status("sequential evaluation...") as status:
        if suite is None:
            result = run_sequential(store, space, feature_version, settings, progress=status.update)
        else:
            options = LiveOptions(row_cap=row_cap, cv_folds=cv_folds, max_rows=max_rows)
            result = run_sequential_live(
                store,
                load_suite(suite),
                space,
                feature_version,
                settings,
                options,
                progress=status.update,
            )
    report = write_sequential_report(result, out, command=command)
    marks = [t for t in _MARKS if t <= trials]
    table = Table(
        "arm",
        *(f"trial {t}" for t in marks),
        title=f"{space}, sequential ({result.mode}), {len(result.tasks)} held-out tasks",
    )
    for arm in result.arms:
        table.add_row(arm, *(f"{result.at(arm, t):.4f}" for t in marks))
    console.print(table)
    for name, found in result.targets().items():
        verdict = "met" if found["met"] else "NOT met"
        console.print(f"{name}: {verdict} ({found})", markup=False)
    for note in result.notes:
        console.print(note, markup=False)
    console.print(f"report: {report}", markup=False)
    return result
