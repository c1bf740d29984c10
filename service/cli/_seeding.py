"""`warmstart evaluate --mode seeding`: Optuna TPE cold against seeded with the top-k."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import ARMS, SeedingSettings, run_seeding, write_seeding_report
from warmstart.service.cli._common import console, open_store

__all__ = ["evaluate_seeding"]

_MARKS = (1, 3, 5, 10, 20, 30, 50)


def evaluate_seeding(
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
    out: Path,
    db: str | None,
    command: str,
) -> None:
    """Run the seeding experiment, print its summary and write the report."""
    if not 1 <= trials <= 1000:
        raise InvalidRequestError(f"--trials must be in [1, 1000], got {trials}")
    if not 1 <= repeats <= 100:
        raise InvalidRequestError(f"--repeats must be in [1, 100], got {repeats}")
    if not 1 <= k <= trials:
        raise InvalidRequestError(f"--k must be in [1, --trials ({trials})], got {k}")
    if tasks is not None and tasks < 1:
        raise InvalidRequestError(f"--tasks must be >= 1, got {tasks}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise InvalidRequestError(
            "--mode seeding needs Optuna: pip install 'warmstart[optimizers]'"
        ) from None
    settings = SeedingSettings(
        n_trials=trials,
        k=k,
        repeats=repeats,
        max_tasks=tasks,
        n_folds=folds,
        seed=seed,
        train=train,
    )
    with open_store(db) as store, console.status("seeding experiment...") as status:
        result = run_seeding(store, space, feature_version, settings, progress=status.update)
    report = write_seeding_report(result, out, command=command)
    marks = [t for t in _MARKS if t <= trials]
    table = Table("arm", *(f"trial {t}" for t in marks), title=f"{space}, seeding experiment")
    for arm in ARMS:
        table.add_row(arm, *(f"{result.at(arm, t):.4f}" for t in marks))
    console.print(table)
    if trials >= 50 and k <= 10:
        console.print(
            f"seeded by trial 10: {result.at('seeded', 10):.4f}; "
            f"cold by trial 50: {result.at('cold', 50):.4f}"
        )
    console.print(
        f"{len(result.task_names)} held-out tasks x {repeats} TPE seeds; report: {report}"
    )
