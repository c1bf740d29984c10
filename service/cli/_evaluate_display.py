"""How ``warmstart evaluate`` prints each mode's result: regret tables, the report's path."""

from __future__ import annotations

from rich.table import Table

from warmstart.benchmarks.live import SINGLE_CONFIG_METHODS, LiveEvaluation, LiveTaskResult
from warmstart.metamodel.evaluation import ARMS, METHODS, PoolEvaluation, SeedingResult
from warmstart.service.cli._common import console, print_left_out
from warmstart.service.evaluation import EvaluationRun

__all__ = ["print_live", "print_pool", "print_seeding"]

#: Trials at which the seeding table shows the regret.
_MARKS = (1, 3, 5, 10, 20, 30, 50)


def print_pool(run: EvaluationRun[PoolEvaluation]) -> None:
    """Mean regret@k per method, the task-dependence figures, what was left out."""
    result = run.result
    ks = result.settings.ks
    table = Table("method", *(f"regret@{k}" for k in ks), title=f"{result.space_name}, pool mode")
    for method in METHODS:
        table.add_row(method, *(f"{result.mean_regret(method, k):.4f}" for k in ks))
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
    own = found.sampled if found is not None else None
    if own is not None and own.n_tasks == 0:
        console.print(
            f"the space's own {own.n_configs} configs (default and Sobol, seed 0) were "
            "measured on no held-out task",
            markup=False,
        )
    elif own is not None:
        console.print(
            f"over the space's own {own.n_configs} (default and Sobol, seed 0): Spearman "
            f"{own.spearman:.3f}; agreement predicted {own.predicted_agreement:.3f}, "
            f"measured {own.measured_agreement:.3f}",
            markup=False,
        )
    print_left_out(result.left_out, {}, "the evaluation")
    per_task = run.report.with_name(f"{result.space_name}_pool_tasks.csv")
    console.print(
        f"{len(result.tasks)} held-out tasks; report: {run.report}; per task: {per_task}",
        markup=False,
    )


def _regret_cells(
    result: LiveEvaluation,
    method: str,
    ks: tuple[int, ...],
    tasks: list[LiveTaskResult] | None = None,
) -> list[str]:
    """Mean regret@k of a method; "=" where a single-config method's k > 1 repeats k = 1."""
    return [
        f"{result.mean_regret(method, k, tasks):.4f}"
        if k == 1 or method not in SINGLE_CONFIG_METHODS
        else "="
        for k in ks
    ]


def print_live(run: EvaluationRun[LiveEvaluation]) -> None:
    """Regret and win/tie/loss per method, by size bucket, against each baseline."""
    result = run.result
    ks = result.settings.ks
    table = Table(
        "method",
        *(f"regret@{k}" for k in ks),
        *(f"ours best-of-{k}: W/T/L" for k in ks),
        title=f"{result.space_name}, live mode, {len(result.tasks)} held-out tasks",
    )
    for method in result.methods:
        records = (
            [""] * len(ks) if method == "warmstart" else [str(result.record(method, k)) for k in ks]
        )
        table.add_row(method, *_regret_cells(result, method, ks), *records)
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
                bucket, str(len(tasks)), method, *_regret_cells(result, method, ks, tasks)
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
    distinct, n_lists = result.distinct_top5()
    if n_lists:
        console.print(
            f"distinct configs in warmstart's top-5 lists: {distinct} over {n_lists} tasks",
            markup=False,
        )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"protocol: {result.protocol_note}; report: {run.report}", markup=False)


def print_seeding(run: EvaluationRun[SeedingResult]) -> None:
    """Mean best-so-far regret of each arm at a few trials."""
    result, settings = run.result, run.result.settings
    marks = [t for t in _MARKS if t <= settings.n_trials]
    table = Table(
        "arm", *(f"trial {t}" for t in marks), title=f"{result.space_name}, seeding experiment"
    )
    for arm in ARMS:
        table.add_row(arm, *(f"{result.at(arm, t):.4f}" for t in marks))
    console.print(table)
    if settings.n_trials >= 50 and settings.k <= 10:
        console.print(
            f"seeded by trial 10: {result.at('seeded', 10):.4f}; "
            f"cold by trial 50: {result.at('cold', 50):.4f}"
        )
    console.print(
        f"{len(result.task_names)} held-out tasks x {settings.repeats} TPE seeds; "
        f"report: {run.report}"
    )
