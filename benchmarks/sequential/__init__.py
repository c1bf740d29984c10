"""Sequential evaluation: the warmstart ask/tell loop against optimizers, regret by trial.

For every held-out task (leave-family-out, as the other evaluation modes) each
arm runs ``n_trials`` trials: ``warmstart`` (each trial asks the fold's
recommender for one config, with every previous trial as an observation),
``tpe_cold`` (Optuna's TPE from scratch), ``tpe_seeded`` (TPE with warmstart's
zero-shot top 10 first), ``flaml_cfo`` (FLAML's CFO from FLAML's zero-shot
config for LightGBM, from the space's default elsewhere) and ``random``.
:func:`run_sequential` evaluates them on the seeding mode's surrogate
benchmarks, :func:`run_sequential_live` trains every config for real with
live mode's protocol; :func:`write_sequential_report` writes the per-task
CSV, a JSON summary, the regret-against-trials plot and a Markdown report.

Example:
    >>> result = run_sequential(store, "lightgbm", "mf-1", SequentialSettings(repeats=3))
    >>> result.targets()  # the loop at trial 10 against cold TPE at trial 50, ...
"""

from __future__ import annotations

from warmstart.benchmarks.sequential._arms import (
    ARMS,
    Loss,
    Suggester,
    random_search,
    tpe_search,
    warmstart_loop,
)
from warmstart.benchmarks.sequential._cfo import cfo_search, flaml_domains
from warmstart.benchmarks.sequential._flaml_start import (
    cfo_start,
    flaml_zeroshot_for_task,
    lightgbm_start,
)
from warmstart.benchmarks.sequential._live import LiveOptions, run_sequential_live
from warmstart.benchmarks.sequential._report import write_sequential_report
from warmstart.benchmarks.sequential._surrogate import best_so_far, run_sequential
from warmstart.benchmarks.sequential._types import (
    SequentialResult,
    SequentialSettings,
    TaskRun,
    changed_settings,
    check_fold_split,
    fold_digests,
    load_fold_split,
    load_recommender_by_fold,
)

__all__ = [
    "ARMS",
    "LiveOptions",
    "Loss",
    "SequentialResult",
    "SequentialSettings",
    "Suggester",
    "TaskRun",
    "best_so_far",
    "cfo_search",
    "cfo_start",
    "changed_settings",
    "check_fold_split",
    "flaml_domains",
    "flaml_zeroshot_for_task",
    "fold_digests",
    "lightgbm_start",
    "load_fold_split",
    "load_recommender_by_fold",
    "random_search",
    "run_sequential",
    "run_sequential_live",
    "tpe_search",
    "warmstart_loop",
    "write_sequential_report",
]
