"""``warmstart refresh``: evaluate what is worth evaluating, retrain, gate, publish, notify.

Made to run unattended (cron, a Kubernetes CronJob). One refresh of a space:

1. takes the store lock ``refresh:SPACE`` (a row of ``store_locks`` with a
   lease), so two refreshes never both publish;
2. registers the suite's tasks, then chooses at most ``--budget`` evaluations
   (:mod:`warmstart.metamodel.refresh`): new tasks first, then where the serving model
   is least certain or would change its suggestions most;
3. runs them with the benchmark runner (local workers or ``--dask``), stored
   as ``source=benchmark``;
4. retrains on every record of the space, client-reported ones included;
5. compares, on the same held-out tasks, the training procedure on today's
   records against the records the serving model was trained on;
6. publishes (registers and serves the new version in one transaction,
   earlier versions and files kept) only if it is not worse, else refuses;
7. optionally tells a running server to reload.

Nothing is registered before step 6, so a refresh killed half-way leaves the
serving model as it was (and the evaluations it finished, which are ordinary
records). SIGTERM is handled like Ctrl-C from start to end: before the
publish, the lock is released, the outcome recorded and the exit code is 130;
a stop that comes while the new version is being registered is ignored (the
publish completes); one that comes while telling the server ends the notice,
with exit code 130 and the version published. Exit codes: see :data:`EXIT_CODES`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warmstart.benchmarks.runner import (
    DaskExecutor,
    Executor,
    Job,
    LocalPool,
    PlanSpec,
    Protocol,
    build_plan,
    resolve_learner,
)
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.bundle import ModelBundle, TrainSettings
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError, WarmstartError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.refresh import (
    Candidate,
    GateResult,
    GateSettings,
    SelectionSettings,
    TrainingSnapshot,
    compare_training_sets,
    select_candidates,
    served_records,
    take_snapshot,
    training_hash,
)
from warmstart.metamodel.store import (
    LockBusyError,
    ModelAction,
    ModelLedger,
    RecordStore,
    StoreLock,
)
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import ModelVersion, RecordSource
from warmstart.service.cli._bench import _print_summary, run_interruptible, sigterm_as_interrupt
from warmstart.service.cli._common import DbOption, console, err_console, handle_errors, open_store
from warmstart.service.cli._model import FeatureVersionOption
from warmstart.service.cli._models_admin import (
    AdminTokenOption,
    NotifyOption,
    TlsRootOption,
    check_version_file,
    notify_server,
)
from warmstart.service.settings import data_dir

__all__ = ["EXIT_CODES", "refresh"]

EXIT_PUBLISHED = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_REFUSED = 3
EXIT_LOCKED = 4
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_PUBLISHED: "published a new model, or nothing new to learn (serving model kept)",
    EXIT_ERROR: "error (store, suite, training...); the serving model is untouched",
    EXIT_INVALID: "invalid flags",
    EXIT_REFUSED: "the gate refused the new model (it was worse); the serving model is kept",
    EXIT_LOCKED: "another refresh of this space holds the lock; nothing was done",
    EXIT_INTERRUPTED: (
        "stopped by SIGINT/SIGTERM; finished evaluations kept, nothing published (or, stopped "
        "while notifying the server, published: the output says which)"
    ),
}


class _StopRefreshError(Exception):
    """Ends a refresh early with an exit code (after its outcome is recorded)."""

    def __init__(self, code: int, outcome: str, detail: dict[str, Any]) -> None:
        super().__init__(outcome)
        self.code, self.outcome, self.detail = code, outcome, detail


@dataclasses.dataclass(frozen=True)
class _Options:
    space: str
    suite: str
    selection: SelectionSettings
    gate: GateSettings
    protocol: Protocol
    workers: int
    dask: str | None
    time_limit: float
    memory_limit: int
    models_dir: Path
    lock_ttl: float
    feature_version: str = FEATURE_VERSION


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(lock: StoreLock) -> bool:
    """A holder on this host whose process is gone (a killed refresh) is dead."""
    try:
        host, pid, _ = lock.holder.rsplit(":", 2)
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError, OSError):
        return False
    return False


@handle_errors
def refresh(
    space: Annotated[str, typer.Option(help="Search space (learner) name, e.g. lightgbm.")],
    suite: Annotated[str, typer.Option(help="Task suite to draw tasks from, as for bench run.")],
    budget: Annotated[int, typer.Option(help="Evaluations to run at most.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the choice, the gate and training.")] = 0,
    new_task_configs: Annotated[int, typer.Option(help="Configs per new task at most.")] = 8,
    per_task: Annotated[int, typer.Option(help="Evaluations per known task at most.")] = 3,
    tolerance: Annotated[
        float, typer.Option(help="Publish if the new mean regret@k <= serving's + this.")
    ] = 0.0,
    k: Annotated[int, typer.Option("--k", help="The k of the gate's regret@k.")] = 5,
    gate_folds: Annotated[int, typer.Option(help="Leave-family-out folds of the gate.")] = 5,
    n_models: Annotated[int, typer.Option(help="Ensemble members.")] = 5,
    n_estimators: Annotated[
        int,
        typer.Option(
            help="Boosting rounds per member over task and config (after 80 config-only rounds)."
        ),
    ] = SurrogateParams.n_estimators,
    folds: Annotated[int, typer.Option(help="k of each evaluation's k-fold CV.")] = 5,
    row_cap: Annotated[int, typer.Option(help="Rows used per task at most; 0: all.")] = 10_000,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: CPU count).")
    ] = None,
    dask: Annotated[
        str | None, typer.Option(help="Dask scheduler address, or local:N.", show_default=False)
    ] = None,
    time_limit: Annotated[float, typer.Option(help="Wall seconds per evaluation.")] = 300.0,
    memory_limit: Annotated[int, typer.Option(help="MiB per evaluation; 0: no limit.")] = 4096,
    models_dir: Annotated[
        Path | None, typer.Option(help="Where bundles go (default: models/ in the data dir).")
    ] = None,
    lock_ttl: Annotated[
        float, typer.Option(help="Lease of the refresh lock in seconds (> the longest refresh).")
    ] = 6 * 3600.0,
    notify: NotifyOption = None,
    admin_token: AdminTokenOption = None,
    tls_root_cert: TlsRootOption = None,
    feature_version: FeatureVersionOption = FEATURE_VERSION,
    db: DbOption = None,
) -> None:
    """Evaluate new tasks and uncertain configs, retrain, publish if not worse; for cron.

    Exit codes: 0 published or nothing new; 1 error; 2 invalid flags; 3 refused by
    the gate; 4 another refresh holds the lock; 130 interrupted.
    """
    n_workers = workers if workers is not None else os.cpu_count() or 1
    if n_workers < 1 or time_limit <= 0 or memory_limit < 0 or lock_ttl <= 0:
        raise InvalidRequestError(
            "--workers must be >= 1, --time-limit and --lock-ttl > 0, --memory-limit >= 0"
        )
    if folds < 2:
        raise InvalidRequestError(f"--folds must be >= 2, got {folds}")
    params = SurrogateParams(seed=seed, n_models=n_models, n_estimators=n_estimators)
    params.check()
    options = _Options(
        space=space,
        suite=suite,
        selection=SelectionSettings(
            budget=budget, new_task_configs=new_task_configs, per_task=per_task, seed=seed
        ),
        gate=GateSettings(
            k=k,
            n_folds=gate_folds,
            tolerance=tolerance,
            seed=seed,
            train=TrainSettings(surrogate=params),
        ),
        protocol=Protocol(folds=folds, row_cap=row_cap or None),
        workers=n_workers,
        dask=dask,
        time_limit=time_limit,
        memory_limit=memory_limit,
        models_dir=(models_dir or data_dir() / "models").expanduser().resolve(),
        lock_ttl=lock_ttl,
        feature_version=feature_version,
    )
    options.selection.check()
    options.gate.check()
    holder, lock_name = _holder(), f"refresh:{space}"
    published: str | None = None
    # SIGTERM stops the job as Ctrl-C does from here to the end, the lock and the notice
    # included, so a scheduler's stop always ends with the lock freed and an exit code.
    with open_store(db) as store, sigterm_as_interrupt():
        ledger = ModelLedger(store)
        try:
            ledger.acquire_lock(lock_name, holder, lock_ttl, holder_is_dead=_dead_here)
        except LockBusyError as exc:
            err_console.print(f"refresh not started: {exc}", markup=False)
            raise typer.Exit(EXIT_LOCKED) from None
        except KeyboardInterrupt:
            # Stopped while taking the lock: a lock taken in that instant is found dead by
            # the next refresh on this host (its holder's process is gone), or expires.
            console.print("interrupted before the refresh started: nothing was done")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        try:
            published = _run(
                store, ledger, options, lambda: ledger.renew_lock(lock_name, holder, lock_ttl)
            )
        except KeyboardInterrupt:
            console.print(
                "interrupted: nothing was published; the evaluations finished so far are kept"
            )
            _log(ledger, space, "interrupted", {})
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except _StopRefreshError as stop:
            _log(ledger, space, stop.outcome, stop.detail)
            raise typer.Exit(stop.code) from None
        except WarmstartError as exc:
            _log(ledger, space, "failed", {"error": str(exc)})
            raise
        finally:
            ledger.release_lock(lock_name, holder)
        if published and notify:
            try:
                notify_server(notify, admin_token, tls_root_cert, published)
            except KeyboardInterrupt:
                err_console.print(
                    f"interrupted while notifying {notify}: {published} is published and "
                    "serving in the store; the server's watcher or its next start picks it up",
                    markup=False,
                )
                raise typer.Exit(EXIT_INTERRUPTED) from None


def _log(ledger: ModelLedger, space: str, outcome: str, detail: dict[str, Any]) -> None:
    try:
        ledger.record(space, ModelAction.REFRESH, detail={"outcome": outcome, **detail})
    except WarmstartError as exc:  # the outcome is printed anyway; do not mask the real one
        err_console.print(f"warning: could not record the refresh outcome: {exc}", markup=False)


def _suite_tasks(options: _Options, store: RecordStore) -> tuple[dict[str, str], Any]:
    """Register the suite's tasks (and features); return {task id: suite name} and the plan."""
    spec = PlanSpec(
        suite=options.suite,
        learners=[options.space],
        n_configs=options.selection.new_task_configs,
        protocol=options.protocol,
        config_seed=options.selection.seed,
    )
    with console.status("loading the suite's tasks...") as status:
        plan = build_plan(spec, store, on_task=lambda name: status.update(f"loading {name}"))
    infos = load_suite(options.suite).list_tasks()
    learner = resolve_learner(options.space)
    names = {
        task.task_id: info.name
        for info, task in zip(infos, plan.tasks, strict=True)
        if task.task_type in learner.task_types
    }
    return names, plan


def _run(
    store: RecordStore, ledger: ModelLedger, options: _Options, renew: Callable[[], None]
) -> str | None:
    """The refresh itself; returns the published version (``None``: nothing new to learn)."""
    names, plan = _suite_tasks(options, store)
    space = plan.spaces[resolve_learner(options.space).name]
    before = take_snapshot(store, options.space, options.feature_version)
    if before.space.space_id != space.space_id:
        raise FailedPreconditionError(
            f"the newest stored version of space {options.space!r} is {before.space.space_id}, "
            f"the learner's is {space.space_id}"
        )
    serving = next((v for v in store.list_model_versions(options.space) if v.serving), None)
    served_bundle = _serving_bundle(serving)
    recorded = {r.task_id for r in before.records}
    new = [t for t in names if t not in recorded]
    known = [t for t in names if t in recorded]
    console.print(
        f"refresh of {options.space} from {options.suite}: {len(names)} tasks in the suite, "
        f"{len(new)} new (no records yet), {len(known)} known; serving "
        f"{serving.version if serving else 'nothing'}; budget {options.selection.budget}",
        markup=False,
    )
    recommender = served_bundle.recommender() if served_bundle else None
    candidates = select_candidates(
        new_tasks=new,
        known_tasks=known,
        records=before.records,
        features=before.features,
        recommender=recommender,
        default=resolve_learner(options.space).default_config(),
        sampled=plan.configs[resolve_learner(options.space).name],
        settings=options.selection,
    )
    _print_candidates(candidates, names)
    stored = _evaluate(store, plan, candidates, names, options)
    renew()
    snapshot = take_snapshot(store, options.space, options.feature_version)
    _print_sources(snapshot)
    norm = options.gate.train.normalisation
    current_hash = training_hash(snapshot, snapshot.records, norm)
    if served_bundle is not None and current_hash == served_bundle.training.get("data_hash"):
        console.print(
            f"nothing new to learn: the records are those {serving and serving.version} was "
            "trained on; it keeps serving"
        )
        _log(ledger, options.space, "up to date", {"evaluations": stored})
        return None
    with console.status(f"training {options.space}..."):
        bundle = snapshot.train(options.feature_version, options.gate.train)
    console.print(
        f"trained {bundle.version} on {bundle.training['records']} records of "
        f"{bundle.training['tasks']} tasks",
        markup=False,
    )
    renew()
    gate = _gate(ledger, snapshot, serving, served_bundle, options)
    renew()
    detail: dict[str, Any] = {
        "evaluations": stored,
        "new_version": bundle.version,
        "serving": serving.version if serving else None,
        "gate": _gate_detail(gate),
    }
    if gate is not None and not gate.passed:
        console.print(f"refused: {gate.reason()}; {serving and serving.version} keeps serving")
        raise _StopRefreshError(EXIT_REFUSED, "refused", detail)
    if gate is not None:
        console.print(f"gate passed: {gate.reason()}")
    _publish(ledger, snapshot, bundle, serving, gate, options, detail)
    return bundle.version


def _serving_bundle(serving: ModelVersion | None) -> ModelBundle | None:
    if serving is None:
        return None
    try:
        return check_version_file(serving)
    except FailedPreconditionError as exc:
        err_console.print(
            f"warning: the serving model's bundle cannot be used ({exc}); choosing without it",
            markup=False,
        )
        return None


def _print_candidates(candidates: list[Candidate], names: dict[str, str]) -> None:
    counts: dict[str, int] = {}
    for candidate in candidates:
        counts[candidate.reason] = counts.get(candidate.reason, 0) + 1
    shown = ", ".join(f"{n} {reason}" for reason, n in counts.items()) or "none"
    console.print(f"selected {len(candidates)} evaluations: {shown}")
    new_tasks = sorted({names[c.task_id] for c in candidates if c.reason == "new task"})
    if new_tasks:
        console.print("new tasks: " + ", ".join(new_tasks), markup=False)


def _evaluate(
    store: RecordStore,
    plan: Any,
    candidates: list[Candidate],
    names: dict[str, str],
    options: _Options,
) -> int:
    """Run the chosen evaluations; return how many new records were stored."""
    space = plan.spaces[resolve_learner(options.space).name]
    jobs = [
        Job(
            suite=options.suite,
            task_name=names[c.task_id],
            task_id=c.task_id,
            learner=options.space,
            space_id=space.space_id,
            config=c.config,
            config_hash=c.config_hash,
            seed=0,  # the bench default: refresh records share keys with `bench run`'s
            protocol=options.protocol,
        )
        for c in candidates
    ]
    if not jobs:
        console.print("nothing to evaluate")
        return 0
    to_run = dataclasses.replace(plan, jobs=jobs, total=len(jobs), already_stored=0)
    executor: Executor
    if options.dask:
        executor = DaskExecutor(options.dask, options.time_limit, options.memory_limit)
    else:
        executor = LocalPool(options.workers, options.time_limit, options.memory_limit)
    console.print(f"running on {executor.describe()} -> {store.url}", markup=False)
    summary = run_interruptible(store, to_run, executor, 50)
    _print_summary(summary)
    if summary.interrupted:
        console.print(
            f"interrupted: {summary.stored} finished evaluations were saved; nothing was trained "
            "or published"
        )
        raise _StopRefreshError(EXIT_INTERRUPTED, "interrupted", {"evaluations": summary.stored})
    return summary.stored


def _print_sources(snapshot: TrainingSnapshot) -> None:
    sources = snapshot.by_source()
    shown = ", ".join(f"{source} {n}" for source, n in sources.items())
    client = sources.get(RecordSource.CLIENT.value, 0)
    note = (
        f"{client} client-reported records included"
        if client
        else "no client-reported records yet (they would be included)"
    )
    console.print(
        f"training data: all {len(snapshot.records)} records of the space ({shown}); {note}",
        markup=False,
    )


def _gate(
    ledger: ModelLedger,
    snapshot: TrainingSnapshot,
    serving: ModelVersion | None,
    served_bundle: ModelBundle | None,
    options: _Options,
) -> GateResult | None:
    if serving is None:
        console.print("no serving model: the first version is published without a comparison")
        return None
    made = ledger.events(options.space, actions=[ModelAction.PUBLISH], version=serving.version)
    cutoff = made[0].detail.get("max_record_id") if made else None
    if isinstance(cutoff, int):
        old = served_records(snapshot, max_record_id=cutoff)
        how = f"records up to id {cutoff} (stored with {serving.version})"
    else:
        old = served_records(snapshot, created_before=serving.created_at)
        how = f"records created before {serving.version} (no cut-off stored with it)"
    check = ""
    if served_bundle is not None:
        rebuilt = training_hash(snapshot, old, options.gate.train.normalisation)
        same = rebuilt == served_bundle.training.get("data_hash")
        check = "; rebuilt exactly (data hash matches)" if same else "; data hash differs"
    console.print(f"serving model's training data: {len(old)} {how}{check}", markup=False)
    with console.status("comparing on held-out families...") as status:
        result = compare_training_sets(
            snapshot.space,
            snapshot.records,
            old,
            snapshot.features,
            snapshot.families,
            snapshot.task_names,
            options.feature_version,
            options.gate,
            progress=status.update,
        )
    table = Table("trained on", "records", f"mean regret@{result.k}", title="publish gate")
    table.add_row(
        "current records (new)", str(len(snapshot.records)), f"{result.mean_candidate:.4f}"
    )
    table.add_row(f"{serving.version}'s records", str(len(old)), f"{result.mean_serving:.4f}")
    console.print(table)
    console.print(
        f"{len(result.candidate)} held-out tasks, {result.n_folds} folds, "
        f"tolerance {result.tolerance:g}"
        + (f", folds skipped: {list(result.skipped_folds)}" if result.skipped_folds else "")
    )
    return result


def _gate_detail(gate: GateResult | None) -> dict[str, Any] | None:
    if gate is None:
        return None
    return {
        "k": gate.k,
        "folds": gate.n_folds,
        "tolerance": gate.tolerance,
        "held_out_tasks": len(gate.candidate),
        "new": gate.mean_candidate,
        "serving": gate.mean_serving,
        "passed": gate.passed,
        "reason": gate.reason(),
    }


@contextlib.contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while the new version is written and registered.

    Stopped there, a refresh could have committed the publish and still report
    "interrupted", or unlink a bundle it has just registered; so it completes.
    """
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _publish(
    ledger: ModelLedger,
    snapshot: TrainingSnapshot,
    bundle: ModelBundle,
    serving: ModelVersion | None,
    gate: GateResult | None,
    options: _Options,
    detail: dict[str, Any],
) -> None:
    metrics = {"records": float(len(snapshot.records)), "tasks": float(bundle.training["tasks"])}
    if gate is not None:
        metrics[f"regret@{gate.k}"] = gate.mean_candidate
        metrics[f"serving_regret@{gate.k}"] = gate.mean_serving
    bundle = dataclasses.replace(bundle, metrics=metrics)
    with _stop_signals_ignored():
        path = options.models_dir / f"{bundle.version}.wsb"
        digest = bundle.save(path)
        version = ModelVersion(
            bundle.version, options.space, str(path), digest, bundle.created_at, metrics
        )
        try:
            ledger.publish(
                version,
                expected_serving=serving.version if serving else None,
                detail={
                    **detail,
                    "max_record_id": snapshot.max_record_id,
                    "by_source": snapshot.by_source(),
                },
            )
        except BaseException:
            path.unlink(missing_ok=True)  # never leave an unregistered bundle beside the real ones
            raise
        _log(ledger, options.space, "published", detail)
    console.print(
        f"published {bundle.version} -> {path}; it now serves space {options.space} (was "
        f"{serving.version if serving else 'nothing'}). Earlier versions are kept: "
        f"`warmstart model rollback --space {options.space}` serves the previous one again.",
        markup=False,
    )
