"""Evaluation of suggestions against the baselines, leave-family-out."""

from __future__ import annotations

from warmstart.metamodel.evaluation._dependence import (
    RankedTask,
    agreement,
    finite_mean,
    spearman_or_nan,
)
from warmstart.metamodel.evaluation._plots import (
    METHOD_LABELS,
    markdown_table,
    plot_mean_regret,
    plot_per_task,
)
from warmstart.metamodel.evaluation._pool import (
    METHODS,
    EvalSettings,
    FoldRules,
    PoolEvaluation,
    TaskResult,
    evaluate_fold,
    evaluate_pool,
    family_folds,
    mean_order,
    neighbour_order,
    regret_curve,
)
from warmstart.metamodel.evaluation._report import write_pool_report, write_pool_tasks
from warmstart.metamodel.evaluation._seeding import (
    ARMS,
    SeedingResult,
    SeedingSettings,
    TaskObjective,
    run_seeding,
)
from warmstart.metamodel.evaluation._seeding_report import write_seeding_report
from warmstart.metamodel.evaluation._tasks import (
    EvaluationData,
    load_evaluation_data,
    spread_over_families,
    task_families,
    usable_records,
)

__all__ = [
    "ARMS",
    "METHODS",
    "METHOD_LABELS",
    "EvalSettings",
    "EvaluationData",
    "FoldRules",
    "PoolEvaluation",
    "RankedTask",
    "SeedingResult",
    "SeedingSettings",
    "TaskObjective",
    "TaskResult",
    "agreement",
    "evaluate_fold",
    "evaluate_pool",
    "family_folds",
    "finite_mean",
    "load_evaluation_data",
    "markdown_table",
    "mean_order",
    "neighbour_order",
    "plot_mean_regret",
    "plot_per_task",
    "regret_curve",
    "run_seeding",
    "spearman_or_nan",
    "spread_over_families",
    "task_families",
    "usable_records",
    "write_pool_report",
    "write_pool_tasks",
    "write_seeding_report",
]
