"""The benchmark runner: evaluate learners' configs on task suites into the records store.

Build a :class:`Plan` from a :class:`PlanSpec` (tasks × learners × configs ×
seeds, minus what is stored), then :func:`run_plan` it on a :class:`LocalPool`
of worker processes or a :class:`DaskExecutor`. Every evaluation runs in a
worker process under a wall-time and a memory limit; failures and time-outs
are stored as records with their error, and re-running a plan only does what
is missing.
"""

from __future__ import annotations

from warmstart.benchmarks.runner._dask import DaskExecutor
from warmstart.benchmarks.runner._jobs import Job, JobResult, Protocol
from warmstart.benchmarks.runner._learners import resolve_learner
from warmstart.benchmarks.runner._plan import Plan, PlanSpec, build_plan, parse_shard, shard_bounds
from warmstart.benchmarks.runner._protocol import cap_rows, config_job, evaluate, evaluate_config
from warmstart.benchmarks.runner._run import Executor, RunSummary, run_plan, to_record
from warmstart.benchmarks.runner._session import (
    ProgressLog,
    RunObserver,
    SummaryRow,
    describe_plan,
    describe_summary,
    make_executor,
    resolve_workers,
    run_interruptible,
    run_spec,
    sigterm_as_interrupt,
    summary_rows,
)
from warmstart.benchmarks.runner._workers import LocalPool, WorkerProcess

__all__ = [
    "DaskExecutor",
    "Executor",
    "Job",
    "JobResult",
    "LocalPool",
    "Plan",
    "PlanSpec",
    "ProgressLog",
    "Protocol",
    "RunObserver",
    "RunSummary",
    "SummaryRow",
    "WorkerProcess",
    "build_plan",
    "cap_rows",
    "config_job",
    "describe_plan",
    "describe_summary",
    "evaluate",
    "evaluate_config",
    "make_executor",
    "parse_shard",
    "resolve_learner",
    "resolve_workers",
    "run_interruptible",
    "run_plan",
    "run_spec",
    "shard_bounds",
    "sigterm_as_interrupt",
    "summary_rows",
    "to_record",
]
