"""``warmstart bench``: run benchmark plans, list suites and learners."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from warmstart.benchmarks.learners import available_learners
from warmstart.benchmarks.runner import (
    DaskExecutor,
    Executor,
    JobResult,
    LocalPool,
    Plan,
    PlanSpec,
    Protocol,
    RunSummary,
    build_plan,
    resolve_learner,
    run_plan,
)
from warmstart.benchmarks.tasks import available_suite_kinds
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import make_search_space
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import RecordStatus
from warmstart.service.cli._common import DbOption, console, handle_errors, open_store

app = typer.Typer(help="Evaluate learners' configs on task suites.", no_args_is_help=True)

EXIT_INTERRUPTED = 130


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _seeds(value: str) -> list[int]:
    try:
        return [int(item) for item in _csv(value)]
    except ValueError:
        raise InvalidRequestError(
            f"--seeds takes integers separated by commas, got {value!r}"
        ) from None


@app.command()
@handle_errors
def run(
    suite: Annotated[
        str,
        typer.Option(help="Task suite, e.g. pmlb:PATH, sklearn, synthetic:n=20 (bench suites)."),
    ],
    learners: Annotated[
        str, typer.Option(help="Comma-separated learner names (bench learners).")
    ] = "lightgbm",
    configs: Annotated[int, typer.Option(help="Configs per learner, the default included.")] = 16,
    sampler: Annotated[str, typer.Option(help="sobol, random or grid.")] = "sobol",
    tasks: Annotated[int | None, typer.Option(help="At most this many tasks.")] = None,
    task: Annotated[
        list[str] | None, typer.Option(help="Only this task (repeat for several).")
    ] = None,
    max_rows: Annotated[
        int | None, typer.Option(help="Leave out tasks with more rows than this.")
    ] = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated evaluation seeds.")] = "0",
    folds: Annotated[int, typer.Option(help="k of k-fold cross-validation.")] = 5,
    holdout: Annotated[
        float | None, typer.Option(help="Use one hold-out split of this fraction instead of CV.")
    ] = None,
    row_cap: Annotated[
        int,
        typer.Option(help="Rows used per task at most (subsampled inside the evaluation); 0: all."),
    ] = 10_000,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: CPU count).")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address, or local:N to start a local cluster."),
    ] = None,
    time_limit: Annotated[float, typer.Option(help="Wall seconds per evaluation.")] = 300.0,
    memory_limit: Annotated[
        int, typer.Option(help="MiB one evaluation may add to its worker; 0: no limit.")
    ] = 4096,
    batch_size: Annotated[int, typer.Option(help="Records written per batch.")] = 50,
    db: DbOption = None,
) -> None:
    """Evaluate tasks × learners × configs × seeds; only what is not stored yet."""
    if sampler not in ("sobol", "random", "grid"):
        raise InvalidRequestError(f"--sampler must be sobol, random or grid, got {sampler!r}")
    if time_limit <= 0 or memory_limit < 0 or batch_size < 1:
        raise InvalidRequestError(
            "--time-limit must be > 0, --memory-limit >= 0 and --batch-size >= 1"
        )
    n_workers = resolve_workers(workers)
    spec = PlanSpec(
        suite=suite,
        learners=_csv(learners),
        n_configs=configs,
        sampler=sampler,  # type: ignore[arg-type]
        seeds=_seeds(seeds),
        protocol=Protocol(folds=folds, holdout=holdout, row_cap=row_cap or None),
        task_names=task or None,
        max_tasks=tasks,
        max_rows=max_rows,
    )
    with open_store(db) as store:
        summary = run_spec(
            store,
            spec,
            workers=n_workers,
            dask=dask,
            time_limit=time_limit,
            memory_limit=memory_limit,
            batch_size=batch_size,
        )
    if summary.interrupted:
        console.print(
            f"interrupted: {summary.stored} finished evaluations were saved; "
            "run the same command again to finish the rest"
        )
        raise typer.Exit(EXIT_INTERRUPTED)


def resolve_workers(workers: int | None) -> int:
    """The number of local worker processes: ``--workers``, else the CPU count."""
    n_workers = workers if workers is not None else os.cpu_count() or 1
    if n_workers < 1:
        raise InvalidRequestError(f"--workers must be >= 1, got {n_workers}")
    return n_workers


def run_spec(
    store: RecordStore,
    spec: PlanSpec,
    *,
    workers: int,
    dask: str | None,
    time_limit: float,
    memory_limit: int,
    batch_size: int = 50,
) -> RunSummary:
    """Plan a spec against the store, print the plan, run what is missing, print a summary.

    What ``warmstart bench run`` does once its options are checked; ``warmstart
    kb build`` runs each step of its plan through it.

    Args:
        store: Where tasks, spaces and records are stored.
        spec: What to evaluate.
        workers: Local worker processes (when ``dask`` is not given).
        dask: A Dask scheduler address, or ``local:N``.
        time_limit: Wall seconds per evaluation.
        memory_limit: MiB one evaluation may add to its worker; 0: no limit.
        batch_size: Records written per batch.

    Returns:
        What the run did; ``interrupted`` if SIGTERM or Ctrl-C stopped it (every
        finished evaluation is saved, so running the same spec again resumes).
        With nothing left to run, an empty summary.
    """
    with console.status("loading tasks...") as status:
        plan = build_plan(spec, store, on_task=lambda name: status.update(f"loading {name}"))
    console.print(
        f"plan: {len(plan.tasks)} tasks x {len(plan.spaces)} learners x {spec.n_configs} configs "
        f"x {len(spec.seeds)} seeds = {plan.total} evaluations ({spec.protocol.describe()}); "
        f"{plan.already_stored} already stored, {len(plan.jobs)} to run"
    )
    if not plan.jobs:
        console.print("nothing to do")
        return RunSummary(already_stored=plan.already_stored)
    executor: Executor
    if dask:
        executor = DaskExecutor(dask, time_limit, memory_limit)
    else:
        executor = LocalPool(workers, time_limit, memory_limit)
    console.print(f"running on {executor.describe()} -> {store.url}")
    summary = run_interruptible(store, plan, executor, batch_size)
    _print_summary(summary)
    return summary


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM raise KeyboardInterrupt while the block runs, as Ctrl-C does.

    Schedulers and `kill` stop batch jobs with SIGTERM; this lets them stop
    cleanly. The previous handler is restored on the way out.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_interruptible(store: RecordStore, plan: Plan, executor: Executor, batch: int) -> RunSummary:
    """Run a plan with progress output; close the executor whatever happens.

    Schedulers and `kill` stop batch jobs with SIGTERM: like Ctrl-C, it stops
    the run after saving what finished (``summary.interrupted``).
    """
    try:
        with sigterm_as_interrupt():
            return _run_with_progress(store, plan, executor, batch)
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()


def _run_with_progress(
    store: RecordStore, plan: Plan, executor: Executor, batch: int
) -> RunSummary:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]} timeout {task.fields[timeout]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    total = len(plan.jobs)
    counts = {RecordStatus.FAILED: 0, RecordStatus.TIMEOUT: 0}
    if not console.is_terminal:
        # Logs of background and scheduled runs: a plain line every 30 s.
        started = time.monotonic()
        state = {"done": 0, "last": started}

        def report(result: JobResult) -> None:
            if result.status in counts:
                counts[result.status] += 1
            state["done"] += 1
            now = time.monotonic()
            if now - state["last"] >= 30 or state["done"] == total:
                state["last"] = now
                rate = state["done"] / max(now - started, 1e-9)
                eta = (total - state["done"]) / rate if rate > 0 else float("inf")
                console.print(
                    f"progress {state['done']}/{total} "
                    f"(failed {counts[RecordStatus.FAILED]}, "
                    f"timeout {counts[RecordStatus.TIMEOUT]}), "
                    f"elapsed {now - started:.0f} s, eta {eta:.0f} s"
                )

        return run_plan(store, plan, executor, batch_size=batch, on_result=report)
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("evaluating", total=total, failed=0, timeout=0)

        def advance(result: JobResult) -> None:
            if result.status in counts:
                counts[result.status] += 1
            progress.update(
                bar,
                advance=1,
                failed=counts[RecordStatus.FAILED],
                timeout=counts[RecordStatus.TIMEOUT],
            )

        return run_plan(store, plan, executor, batch_size=batch, on_result=advance)


def _print_summary(summary: RunSummary) -> None:
    table = Table("learner", "done", "ok", "failed", "timeout", title="evaluations this run")
    for learner in summary.learners():
        counts = [summary.counts[(learner, s.value)] for s in RecordStatus]
        table.add_row(learner, str(sum(counts)), *(str(c) for c in counts))
    console.print(table)
    console.print(
        f"{summary.finished} evaluations in {summary.seconds:.1f} s, {summary.stored} new records "
        f"stored, {summary.already_stored} were already stored"
    )


@app.command()
def suites() -> None:
    """List the kinds of task suite and how to name them."""
    table = Table("kind", "description")
    for kind, description in available_suite_kinds():
        table.add_row(kind, description)
    console.print(table)


@app.command("learners")
@handle_errors
def learners_(
    space: Annotated[
        str | None, typer.Option(help="Print this learner's search space (ConfigSpace JSON).")
    ] = None,
) -> None:
    """List the learners, or print one learner's search space."""
    if space is not None:
        learner = resolve_learner(space)
        wrapped = make_search_space(learner.name, learner.search_space())
        console.print(f"# space {wrapped.name}, id {wrapped.space_id}")
        console.print_json(json.dumps(json.loads(wrapped.definition)))
        console.print(f"# library default: {json.dumps(learner.default_config())}")
        return
    table = Table("learner", "task types", "parameters", "deterministic", "space id")
    for name in available_learners():
        learner = resolve_learner(name)
        space_cs = learner.search_space()
        table.add_row(
            name,
            ", ".join(sorted(t.value for t in learner.task_types)),
            str(len(space_cs)),
            "yes" if learner.deterministic else "no",
            make_search_space(name, space_cs).space_id,
        )
    console.print(table)
