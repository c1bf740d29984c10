"""Evaluation of suggestions against the baselines, leave-family-out."""

from __future__ import annotations

from metamodel.evaluation._pool import (
    METHODS,
    EvalSettings,
    PoolEvaluation,
    TaskResult,
    evaluate_pool,
    regret_curve,
)
from metamodel.evaluation._report import write_pool_report

__all__ = [
    "METHODS",
    "EvalSettings",
    "PoolEvaluation",
    "TaskResult",
    "evaluate_pool",
    "regret_curve",
    "write_pool_report",
]
