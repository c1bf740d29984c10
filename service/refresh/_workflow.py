"""One refresh of a space, step by step, under the store lock ``refresh:SPACE``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from warmstart.benchmarks.runner import (
    Job,
    Plan,
    PlanSpec,
    RunSummary,
    build_plan,
    make_executor,
    resolve_learner,
    run_interruptible,
)
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import FailedPreconditionError, WarmstartError
from warmstart.metamodel.refresh import (
    GateResult,
    TrainingSnapshot,
    compare_training_sets,
    select_candidates,
    served_records,
    take_snapshot,
    training_hash,
)
from warmstart.metamodel.store import ModelAction, ModelLedger, RecordStore
from warmstart.metamodel.types import ModelVersion
from warmstart.service.model_files import check_version_file
from warmstart.service.refresh._lock import holder_id, holder_is_dead
from warmstart.service.refresh._observer import RefreshObserver
from warmstart.service.refresh._options import RefreshOptions
from warmstart.service.refresh._publish import publish
from warmstart.service.refresh._result import (
    RefreshOutcome,
    RefreshPlan,
    RefreshResult,
    ServedTrainingData,
)

__all__ = ["refresh_space"]

#: Records written to the store per batch while evaluating.
_BATCH = 50


def refresh_space(
    store: RecordStore, options: RefreshOptions, observer: RefreshObserver | None = None
) -> RefreshResult:
    """Refresh one space's model (see :mod:`warmstart.service.refresh` for the steps).

    A ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM made into one by
    :func:`~warmstart.benchmarks.runner.sigterm_as_interrupt`) before the publish
    ends the refresh with :attr:`RefreshOutcome.INTERRUPTED`: the lock is
    released, the outcome recorded and the finished evaluations kept. While the
    new version is being registered, SIGINT and SIGTERM are ignored (in the main
    thread), so a publish is never half done.

    Args:
        store: The records store (tasks, records, model versions, the lock).
        options: What to refresh and how.
        observer: Told of each step as it happens.

    Returns:
        What the refresh did: published, up to date, refused by the gate, or interrupted.

    Raises:
        InvalidRequestError: ``options`` out of range, or an unknown suite or learner;
            checked before the lock is taken.
        LockBusyError: Another refresh of the space holds the lock; nothing was done.
        FailedPreconditionError: The store's newest version of the space is not the
            learner's, the gate cannot compare, or another version was made to serve
            meanwhile. Recorded as a failed refresh; the serving model is untouched.
        KeyboardInterrupt: Only if it comes while the lock is being taken (nothing done).
    """
    options.check()
    resolve_learner(options.space)
    observer = observer or RefreshObserver()
    ledger = ModelLedger(store)
    holder, lock = holder_id(), f"refresh:{options.space}"
    ledger.acquire_lock(lock, holder, options.lock_ttl, holder_is_dead=holder_is_dead)
    refresh = _Refresh(
        store, ledger, options, observer, lambda: ledger.renew_lock(lock, holder, options.lock_ttl)
    )
    try:
        return refresh.run()
    except KeyboardInterrupt:
        refresh.log(RefreshOutcome.INTERRUPTED.value, {})
        return refresh.result(
            RefreshOutcome.INTERRUPTED,
            "interrupted: nothing was published; the evaluations finished so far are kept",
        )
    except WarmstartError as exc:
        refresh.log("failed", {"error": str(exc)})
        raise
    finally:
        ledger.release_lock(lock, holder)


class _Refresh:
    """The steps of one refresh; what each found is kept for the result."""

    def __init__(
        self,
        store: RecordStore,
        ledger: ModelLedger,
        options: RefreshOptions,
        observer: RefreshObserver,
        renew: Callable[[], None],
    ) -> None:
        self.store, self.ledger, self.options = store, ledger, options
        self.observer, self.renew = observer, renew
        self.plan: RefreshPlan | None = None
        self.run_summary: RunSummary | None = None
        self.records = 0
        self.trained: ModelBundle | None = None
        self.served: ServedTrainingData | None = None
        self.gate: GateResult | None = None

    def result(
        self, outcome: RefreshOutcome, reason: str, published: ModelVersion | None = None
    ) -> RefreshResult:
        return RefreshResult(
            outcome=outcome,
            plan=self.plan,
            run=self.run_summary,
            records=self.records,
            trained=self.trained,
            served=self.served,
            gate=self.gate,
            published=published,
            reason=reason,
        )

    def log(self, outcome: str, detail: dict[str, Any]) -> None:
        """Record the refresh's outcome; a failure to do so is a warning, not the outcome."""
        try:
            self.ledger.record(
                self.options.space, ModelAction.REFRESH, detail={"outcome": outcome, **detail}
            )
        except WarmstartError as exc:
            self.observer.warning(f"could not record the refresh outcome: {exc}")

    def run(self) -> RefreshResult:
        options = self.options
        suite_plan, names = self._suite_tasks()
        space = suite_plan.spaces[resolve_learner(options.space).name]
        before = take_snapshot(self.store, options.space, options.feature_version)
        if before.space.space_id != space.space_id:
            raise FailedPreconditionError(
                f"the newest stored version of space {options.space!r} is "
                f"{before.space.space_id}, the learner's is {space.space_id}"
            )
        serving = next(
            (v for v in self.store.list_model_versions(options.space) if v.serving), None
        )
        served_bundle = self._serving_bundle(serving)
        recorded = {r.task_id for r in before.records}
        learner = resolve_learner(options.space)
        candidates = select_candidates(
            new_tasks=[t for t in names if t not in recorded],
            known_tasks=[t for t in names if t in recorded],
            records=before.records,
            features=before.features,
            recommender=served_bundle.recommender() if served_bundle else None,
            default=learner.default_config(),
            sampled=suite_plan.configs[learner.name],
            settings=options.selection,
        )
        self.plan = RefreshPlan(
            space=options.space,
            suite=options.suite,
            task_names=names,
            new_tasks=tuple(t for t in names if t not in recorded),
            known_tasks=tuple(t for t in names if t in recorded),
            serving=serving.version if serving else None,
            budget=options.selection.budget,
            candidates=tuple(candidates),
        )
        self.observer.planned(self.plan)
        self._evaluate(suite_plan, space.space_id)
        stored = self.run_summary.stored if self.run_summary else 0
        if self.run_summary is not None and self.run_summary.interrupted:
            self.log(RefreshOutcome.INTERRUPTED.value, {"evaluations": stored})
            return self.result(
                RefreshOutcome.INTERRUPTED,
                f"interrupted: {stored} finished evaluations were saved; nothing was trained "
                "or published",
            )
        self.renew()
        snapshot = take_snapshot(self.store, options.space, options.feature_version)
        self.records = len(snapshot.records)
        self.observer.training(snapshot)
        data_hash = training_hash(snapshot, snapshot.records, options.gate.train.normalisation)
        if served_bundle is not None and data_hash == served_bundle.training.get("data_hash"):
            self.log(RefreshOutcome.UP_TO_DATE.value, {"evaluations": stored})
            return self.result(
                RefreshOutcome.UP_TO_DATE,
                f"nothing new to learn: the records are those {self.plan.serving} was trained "
                "on; it keeps serving",
            )
        self.trained = bundle = snapshot.train(options.feature_version, options.gate.train)
        self.observer.trained(bundle)
        self.renew()
        if serving is not None:
            self.gate = self._compare(snapshot, serving, served_bundle)
        self.renew()
        detail: dict[str, Any] = {
            "evaluations": stored,
            "new_version": bundle.version,
            "serving": self.plan.serving,
            "gate": _gate_detail(self.gate),
        }
        if self.gate is not None and not self.gate.passed:
            self.log(RefreshOutcome.REFUSED.value, detail)
            return self.result(
                RefreshOutcome.REFUSED,
                f"refused: {self.gate.reason()}; {self.plan.serving} keeps serving",
            )
        version = publish(
            self.ledger,
            snapshot,
            bundle,
            serving,
            self.gate,
            options,
            detail,
            on_published=lambda: self.log(RefreshOutcome.PUBLISHED.value, detail),
        )
        reason = (
            f"gate passed: {self.gate.reason()}"
            if self.gate is not None
            else "no serving model: the first version is published without a comparison"
        )
        return self.result(RefreshOutcome.PUBLISHED, reason, published=version)

    def _suite_tasks(self) -> tuple[Plan, dict[str, str]]:
        """Register the suite's tasks (and features); return the plan and {task id: name}."""
        options = self.options
        spec = PlanSpec(
            suite=options.suite,
            learners=[options.space],
            n_configs=options.selection.new_task_configs,
            protocol=options.protocol,
            config_seed=options.selection.seed,
        )
        plan = build_plan(spec, self.store, on_task=self.observer.loading)
        infos = load_suite(options.suite).list_tasks()
        learner = resolve_learner(options.space)
        names = {
            task.task_id: info.name
            for info, task in zip(infos, plan.tasks, strict=True)
            if task.task_type in learner.task_types
        }
        return plan, names

    def _serving_bundle(self, serving: ModelVersion | None) -> ModelBundle | None:
        if serving is None:
            return None
        try:
            return check_version_file(serving)
        except FailedPreconditionError as exc:
            self.observer.warning(
                f"the serving model's bundle cannot be used ({exc}); choosing without it"
            )
            return None

    def _evaluate(self, suite_plan: Plan, space_id: str) -> None:
        """Run the chosen evaluations (seed 0, as `bench run`: the records share its keys)."""
        assert self.plan is not None
        options = self.options
        jobs = [
            Job(
                suite=options.suite,
                task_name=self.plan.task_names[c.task_id],
                task_id=c.task_id,
                learner=options.space,
                space_id=space_id,
                config=c.config,
                config_hash=c.config_hash,
                seed=0,
                protocol=options.protocol,
            )
            for c in self.plan.candidates
        ]
        if not jobs:
            return
        to_run = dataclasses.replace(suite_plan, jobs=jobs, total=len(jobs), already_stored=0)
        executor = make_executor(
            options.workers, options.dask, options.time_limit, options.memory_limit
        )
        self.observer.running(executor, self.store, len(jobs))
        self.run_summary = run_interruptible(
            self.store, to_run, executor, _BATCH, on_result=self.observer.result
        )
        self.observer.evaluated(self.run_summary)

    def _compare(
        self,
        snapshot: TrainingSnapshot,
        serving: ModelVersion,
        served_bundle: ModelBundle | None,
    ) -> GateResult:
        """The gate: today's records against the serving model's, same procedure and folds."""
        options = self.options
        made = self.ledger.events(
            options.space, actions=[ModelAction.PUBLISH], version=serving.version
        )
        cutoff = made[0].detail.get("max_record_id") if made else None
        if isinstance(cutoff, int):
            old = served_records(snapshot, max_record_id=cutoff)
        else:
            old = served_records(snapshot, created_before=serving.created_at)
        matches = None
        if served_bundle is not None:
            rebuilt = training_hash(snapshot, old, options.gate.train.normalisation)
            matches = rebuilt == served_bundle.training.get("data_hash")
        self.served = ServedTrainingData(
            serving.version, len(old), cutoff if isinstance(cutoff, int) else None, matches
        )
        self.observer.comparing(self.served)
        return compare_training_sets(
            snapshot.space,
            snapshot.records,
            old,
            snapshot.features,
            snapshot.families,
            snapshot.task_names,
            options.feature_version,
            options.gate,
            progress=self.observer.gate_progress,
        )


def _gate_detail(gate: GateResult | None) -> dict[str, Any] | None:
    """The gate's figures as stored with the refresh event."""
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
