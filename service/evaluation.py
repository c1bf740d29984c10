"""The leave-family-out evaluations behind ``warmstart evaluate``: one call per mode.

Each mode reads a space's records from the store, runs its evaluation
(:mod:`warmstart.metamodel.evaluation` for pool and seeding,
:mod:`warmstart.benchmarks.live` for live), writes its report into a folder and
returns the result with the report's path:

- :func:`run_pool`: choose among the configs stored for each held-out task (fast);
- :func:`run_live`: train the suggestions and the baselines on the held-out tasks;
- :func:`run_seeding`: Optuna TPE cold against TPE seeded with the top-k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from warmstart.benchmarks.live import LiveEvaluation, LiveSettings, evaluate_live, write_live_report
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import (
    EvalSettings,
    PoolEvaluation,
    SeedingResult,
    SeedingSettings,
    evaluate_pool,
    write_pool_report,
    write_seeding_report,
)
from warmstart.metamodel.evaluation import (
    run_seeding as run_seeding_experiment,
)
from warmstart.metamodel.recommend import MAX_K
from warmstart.metamodel.store import RecordStore

__all__ = [
    "EvaluationRun",
    "check_seeding",
    "live_ks",
    "run_live",
    "run_pool",
    "run_seeding",
]

_R = TypeVar("_R")
Progress = Callable[[str], None]

#: The k of regret@k a live report shows, up to the k asked for.
_REPORT_KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class EvaluationRun(Generic[_R]):
    """An evaluation's result and the Markdown report written for it."""

    result: _R
    report: Path


def run_pool(
    store: RecordStore,
    space: str,
    feature_version: str,
    settings: EvalSettings,
    out: Path,
    *,
    command: str = "",
    progress: Progress | None = None,
) -> EvaluationRun[PoolEvaluation]:
    """Pool mode: each method chooses among the configs stored for each held-out task.

    The report, its plots and ``<space>_pool_tasks.csv`` (per task) go into ``out``.

    Raises:
        NotFoundError: No space of that name.
        FailedPreconditionError: Fewer families with records and meta-features than folds.
    """
    result = evaluate_pool(store, space, feature_version, settings, progress=progress)
    return EvaluationRun(result, write_pool_report(result, out, command=command))


def live_ks(top: int) -> tuple[int, ...]:
    """The k of a live run's regret@k columns: the usual ones up to ``top``, and ``top``.

    Raises:
        InvalidRequestError: ``top`` is outside [1, MAX_K].
    """
    if not 1 <= top <= MAX_K:
        raise InvalidRequestError(f"k must be in [1, {MAX_K}], got {top}")
    return tuple(sorted({k for k in _REPORT_KS if k <= top} | {top}))


def run_live(
    store: RecordStore,
    suite: str,
    space: str,
    feature_version: str,
    settings: LiveSettings,
    out: Path,
    *,
    command: str = "",
    progress: Progress | None = None,
    checkpoint: Path | None = None,
    fresh: bool = False,
) -> EvaluationRun[LiveEvaluation]:
    """Live mode: train each method's configs on the held-out tasks of ``suite`` for real.

    Args:
        store: The records the models are trained on (only read).
        suite: The suite the records were made from (the held-out tasks' data).
        space: The search space.
        feature_version: The meta-feature version.
        settings: What to train and how (checked here).
        out: Folder of the report.
        command: The command quoted in the report.
        progress: Called with a line per step (runs take minutes to hours).
        checkpoint: A folder keeping each held-out task's result as it lands; a
            run with the same folder and fingerprint resumes from it (``None``: none).
        fresh: Discard what ``checkpoint`` holds and start over.

    Raises:
        InvalidRequestError: Settings out of range, or an unknown suite.
        FailedPreconditionError: Too few families with records and meta-features, or
            a checkpoint of another evaluation or with an unreadable file.
    """
    settings.check()
    result = evaluate_live(
        store,
        load_suite(suite),
        space,
        feature_version,
        settings,
        progress=progress,
        suite_spec=suite,  # a time limit's worker processes load the tasks from it
        checkpoint=checkpoint,
        fresh=fresh,
    )
    return EvaluationRun(result, write_live_report(result, out, command=command))


def check_seeding(settings: SeedingSettings) -> None:
    """Refuse seeding settings that cannot run, and a missing Optuna.

    Raises:
        InvalidRequestError: Naming the setting, its value and what is allowed.
    """
    if not 1 <= settings.n_trials <= 1000:
        raise InvalidRequestError(f"trials must be in [1, 1000], got {settings.n_trials}")
    if not 1 <= settings.repeats <= 100:
        raise InvalidRequestError(f"repeats must be in [1, 100], got {settings.repeats}")
    if not 1 <= settings.k <= settings.n_trials:
        raise InvalidRequestError(
            f"k must be in [1, trials ({settings.n_trials})], got {settings.k}"
        )
    if settings.max_tasks is not None and settings.max_tasks < 1:
        raise InvalidRequestError(f"the number of tasks must be >= 1, got {settings.max_tasks}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise InvalidRequestError(
            "the seeding experiment needs Optuna: pip install 'warmstart[optimizers]'"
        ) from None


def run_seeding(
    store: RecordStore,
    space: str,
    feature_version: str,
    settings: SeedingSettings,
    out: Path,
    *,
    command: str = "",
    progress: Progress | None = None,
) -> EvaluationRun[SeedingResult]:
    """Seeding mode: Optuna TPE cold against seeded with the top-k, regret by trial.

    Raises:
        InvalidRequestError: Settings out of range (:func:`check_seeding`), or no Optuna.
        FailedPreconditionError: Too few families with records and meta-features.
    """
    check_seeding(settings)
    result = run_seeding_experiment(store, space, feature_version, settings, progress=progress)
    return EvaluationRun(result, write_seeding_report(result, out, command=command))
