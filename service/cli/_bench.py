"""``warmstart bench``: run benchmark plans, list suites and learners."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from warmstart.benchmarks.learners import available_learners
from warmstart.benchmarks.runner import (
    PlanSpec,
    Protocol,
    resolve_learner,
    resolve_workers,
    run_spec,
)
from warmstart.benchmarks.tasks import available_suite_kinds
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import LOCAL_SCALE, make_search_space
from warmstart.service.cli._common import (
    DbOption,
    console,
    csv_items,
    handle_errors,
    open_store,
)
from warmstart.service.cli._run_display import RunDisplay

__all__ = ["app"]

app = typer.Typer(help="Evaluate learners' configs on task suites.", no_args_is_help=True)

EXIT_INTERRUPTED = 130


def _seeds(value: str) -> list[int]:
    try:
        return [int(item) for item in csv_items(value)]
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
    sampler: Annotated[
        str,
        typer.Option(help="sobol, random, grid, or local (Sobol points around the default)."),
    ] = "sobol",
    scale: Annotated[
        float,
        typer.Option(help="The local sampler's half-width, a fraction of each range in (0, 1]."),
    ] = LOCAL_SCALE,
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
    if sampler not in ("sobol", "random", "grid", "local"):
        raise InvalidRequestError(
            f"--sampler must be sobol, random, grid or local, got {sampler!r}"
        )
    if not 0.0 < scale <= 1.0:
        raise InvalidRequestError(f"--scale must be in (0, 1], got {scale!r}")
    if time_limit <= 0 or memory_limit < 0 or batch_size < 1:
        raise InvalidRequestError(
            "--time-limit must be > 0, --memory-limit >= 0 and --batch-size >= 1"
        )
    n_workers = resolve_workers(workers)
    spec = PlanSpec(
        suite=suite,
        learners=list(csv_items(learners)),
        n_configs=configs,
        sampler=sampler,  # type: ignore[arg-type]
        scale=scale,
        seeds=_seeds(seeds),
        protocol=Protocol(folds=folds, holdout=holdout, row_cap=row_cap or None),
        task_names=task or None,
        max_tasks=tasks,
        max_rows=max_rows,
    )
    with open_store(db) as store, RunDisplay() as display:
        summary = run_spec(
            store,
            spec,
            workers=n_workers,
            dask=dask,
            time_limit=time_limit,
            memory_limit=memory_limit,
            batch_size=batch_size,
            observer=display,
        )
    if summary.interrupted:
        console.print(
            f"interrupted: {summary.stored} finished evaluations were saved; "
            "run the same command again to finish the rest"
        )
        raise typer.Exit(EXIT_INTERRUPTED)


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
