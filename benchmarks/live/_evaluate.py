"""Live-mode evaluation: train the suggested configs on the held-out tasks for real.

Leave-family-out with pool mode's folds (:func:`warmstart.metamodel.evaluation.family_folds`).
For each fold a bundle is trained on the other folds' records only. Each
held-out task is loaded from its suite and these are evaluated on it with the
protocol of the stored records (same CV folds, row cap and seed, through the
runner's own :func:`warmstart.benchmarks.runner.evaluate_config`):

- ``warmstart``: the bundle's suggestions (``Recommender.suggest``, told the rows
  the configs are trained on), asked once for each reported k: its best of k is
  the best of its answer to k, as the set rule served at k chose it;
- ``default``: the learner's library default;
- ``single_best``: the config with the best mean normalised score over the
  training tasks (pool mode's rule);
- ``greedy_portfolio``: the greedy portfolio of the training records
  (auto-sklearn 2.0 / TabRepo, :func:`warmstart.metamodel.portfolio.greedy_portfolio`);
- ``nearest_neighbour``: the best config of each nearest training task in
  meta-feature space (auto-sklearn 1.0), pool mode's rule;
- ``flaml_zeroshot``: FLAML's zero-shot LightGBM (``flaml.default``), when the
  space is LightGBM's and FLAML is installed (see :mod:`warmstart.benchmarks.live._flaml`);
- ``flaml_space``: configs sampled (seeded per task) from FLAML's own LightGBM
  search space for the rows used, under the same conditions
  (see :mod:`warmstart.benchmarks.live._flaml_space`).

warmstart, the portfolio, the nearest neighbours and FLAML's space train
``max(ks)`` configs each and are reported as best of k; the other baselines
train one config. Normalised regret follows HPO-B:
``(best_t - score) / (best_t - worst_t)``, where best and worst are over every
config trained live on the task (all methods) and the task's stored records
measured on the same rows, CV folds and seed; a failed evaluation counts as
the worst.

With a time limit (``LiveSettings.time_limit``) each config is evaluated in
the runner's worker process (:class:`warmstart.benchmarks.runner.WorkerProcess`,
one per held-out task), which loads the task from the suite's spec string and
is killed when a config's CV evaluation runs past the limit: that config
counts as failed. The job is the one :func:`evaluate_config` runs, so a config
within the limit scores exactly as it does in process. warmstart's requests then
state the limit as a user with that budget would: ``max_fit_seconds`` is the
limit's share of one fit (the limit over the CV folds plus one: the rest of each
fold's evaluation, predicting and scoring, needs room too; in the stored LightGBM
records' fits of over 3 s, predicting took a median 14% and a 90th percentile
41% of the fit's time), and where no candidate is
predicted to fit within it the request is asked again without it (noted).

With a checkpoint folder each held-out task's result is written as soon as it is
finished, and a run with the same folder (and the same fingerprint: settings,
records, suite, libraries) loads those instead of training them again; a fold
whose held-out tasks are all done trains no bundle
(see :mod:`warmstart.benchmarks.live._checkpoint`).
"""

from __future__ import annotations

import multiprocessing
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from warmstart.benchmarks.learners import Learner
from warmstart.benchmarks.live._checkpoint import LiveCheckpoint, live_fingerprint, records_hash
from warmstart.benchmarks.live._flaml import (
    FLAML_LIGHTGBM,
    flaml_lightgbm_params,
    flaml_missing_reason,
)
from warmstart.benchmarks.live._flaml_space import FLAML_SPACE_LIGHTGBM, flaml_space_configs
from warmstart.benchmarks.live._protocol import recorded_protocol, resolve_protocol
from warmstart.benchmarks.live._split import (
    comparable_scores,
    evaluated_rows,
    held_out_data,
    learner_of_stored_space,
    spread_over_families,
    suite_names,
    within_rows,
)
from warmstart.benchmarks.live._types import (
    FLAML_METHODS,
    LIVE_METHODS,
    SINGLE_CONFIG_METHODS,
    LiveEvaluation,
    LiveSettings,
    LiveTaskResult,
)
from warmstart.benchmarks.probes import probe_scores
from warmstart.benchmarks.runner import (
    JobResult,
    Protocol,
    WorkerProcess,
    cap_rows,
    config_job,
    evaluate_config,
)
from warmstart.benchmarks.tasks import Suite, TaskData
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError, NotFoundError
from warmstart.metamodel.evaluation import load_evaluation_data, neighbour_order, regret_curve
from warmstart.metamodel.portfolio import ScoreMatrix, greedy_portfolio, score_matrix
from warmstart.metamodel.probes import probe_request
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, RecordStatus

__all__ = ["evaluate_live"]


def _single_best(matrix: ScoreMatrix) -> dict[str, ConfigValue]:
    """The config with the best mean normalised score over the training tasks (missing = 0)."""
    means = np.nan_to_num(matrix.scores, nan=0.0).mean(axis=0)
    return dict(matrix.configs[int(np.argmax(means))])


# The FLAML learners are not registered: a worker process imports them by path.
_FLAML_ZEROSHOT_SPEC = "warmstart.benchmarks.live._flaml:FLAML_LIGHTGBM"
_FLAML_SPACE_SPEC = "warmstart.benchmarks.live._flaml_space:FLAML_SPACE_LIGHTGBM"


@dataclass(frozen=True)
class _Outcome:
    score: float
    error: str | None
    timed_out: bool = False


@dataclass(frozen=True)
class _Limit:
    """A wall-time limit on each config's evaluation, and where its worker loads tasks from.

    Attributes:
        seconds: Wall seconds one config's whole CV evaluation may take.
        suite_spec: The suite's spec string (as ``load_suite`` takes it).
    """

    seconds: float
    suite_spec: str


@dataclass(frozen=True)
class _Context:
    """What every held-out task's evaluation shares.

    Attributes:
        learner_spec: The learner as a worker process resolves it (its
            registered name, or ``"module:attribute"``).
        limit: The time limit (None: none, configs are evaluated in this process).
    """

    learner: Learner
    learner_spec: str
    space_id: str
    protocol: Protocol
    seed: int
    ks: tuple[int, ...]
    with_flaml: bool
    fold_seed: int
    limit: _Limit | None = None


@dataclass(frozen=True)
class _Worker:
    """A held-out task's worker process and what its jobs need to load the task.

    Attributes:
        process: The worker process (one config at a time, killed past the limit).
        limit: The time limit and the suite's spec string.
        task_name: The task's name in the suite.
    """

    process: WorkerProcess
    limit: _Limit
    task_name: str


def _run(
    context: _Context,
    data: TaskData,
    worker: _Worker | None,
    learner: Learner,
    learner_spec: str,
    config: Mapping[str, ConfigValue],
    space_id: str,
) -> _Outcome:
    """One live evaluation through the runner's protocol; an exception is a failure.

    In this process (no worker), or in the task's worker process under the
    time limit; the job (seed, protocol, config hash) is the same either way.
    """
    protocol, seed = context.protocol, context.seed
    result: JobResult
    if worker is None:
        result = evaluate_config(data, learner, space_id, config, protocol, seed, suite="live")
    else:
        job = config_job(
            data,
            learner_spec,
            space_id,
            config,
            protocol,
            seed,
            suite=worker.limit.suite_spec,
            task_name=worker.task_name,
        )
        result = worker.process.run(job, worker.limit.seconds)
    if result.status is not RecordStatus.OK or result.score is None:
        timed_out = result.status is RecordStatus.TIMEOUT
        return _Outcome(float("nan"), result.error or result.status.value, timed_out)
    return _Outcome(float(result.score), None)


@dataclass(frozen=True)
class _Trained:
    """The live outcome of every config, and each method's configs as keys into it."""

    outcomes: dict[str, _Outcome]
    orders: dict[str, list[str]]


def _evaluate_task(
    context: _Context,
    data: TaskData,
    suite_name: str,
    configs: Mapping[str, Sequence[Mapping[str, ConfigValue]]],
    flaml_space: Sequence[Mapping[str, ConfigValue]],
) -> _Trained:
    """Evaluate every distinct config once (one that several methods chose is shared).

    With a time limit the configs run one after another in a worker process of
    the task's own, closed when the task is done.

    Args:
        context: The shared settings.
        data: The held-out task.
        suite_name: The task's name in the suite.
        configs: Each method's configs in the learner's space, in order.
        flaml_space: Configs sampled from FLAML's space (trained with its learner).

    Returns:
        Outcomes keyed by config hash (``flaml_space:HASH`` and
        ``flaml_zeroshot`` for the FLAML baselines) and each method's keys in order.
    """
    distinct: dict[str, Mapping[str, ConfigValue]] = {}
    orders: dict[str, list[str]] = {}
    for method, listed in configs.items():
        orders[method] = [config_hash(c) for c in listed]
        for digest, config in zip(orders[method], listed, strict=True):
            distinct.setdefault(digest, config)
    worker = None
    if context.limit is not None:
        # No memory limit, as in process: only the time limit was asked for.
        worker = _Worker(WorkerProcess(memory_limit_mb=0), context.limit, suite_name)
    try:
        outcomes = {
            digest: _run(
                context,
                data,
                worker,
                context.learner,
                context.learner_spec,
                config,
                context.space_id,
            )
            for digest, config in distinct.items()
        }
        if context.with_flaml:
            orders["flaml_zeroshot"] = ["flaml_zeroshot"]
            outcomes["flaml_zeroshot"] = _run(
                context, data, worker, FLAML_LIGHTGBM, _FLAML_ZEROSHOT_SPEC, {}, ""
            )
            orders["flaml_space"] = []
            for config in flaml_space:
                key = f"flaml_space:{config_hash(config)}"
                orders["flaml_space"].append(key)
                if key not in outcomes:
                    outcomes[key] = _run(
                        context, data, worker, FLAML_SPACE_LIGHTGBM, _FLAML_SPACE_SPEC, config, ""
                    )
    finally:
        if worker is not None:
            if worker.process.job is not None:
                worker.process.kill()  # interrupted mid-config: stop it at once
            worker.process.close()  # an idle child exits when its job pipe closes
    return _Trained(outcomes, orders)


def _task_result(
    context: _Context,
    data: TaskData,
    suite_name: str,
    family: str,
    fold: int,
    configs: Mapping[str, Sequence[Mapping[str, ConfigValue]]],
    records: Sequence[EvaluationRecord],
) -> LiveTaskResult:
    start = time.perf_counter()
    rows_used = evaluated_rows(data, context.protocol)
    flaml_space: list[dict[str, ConfigValue]] = []
    if context.with_flaml:
        flaml_space = flaml_space_configs(
            data.task.task_type,
            rows_used,
            data.X.shape[1],
            max(context.ks),
            [context.fold_seed, zlib.crc32(data.task.task_id.encode())],
        )
    trained = _evaluate_task(context, data, suite_name, configs, flaml_space)
    outcomes, orders = trained.outcomes, trained.orders
    stored = comparable_scores(records, rows_used, context.protocol, context.seed)
    # One pool of scores: the comparable stored records and everything measured live.
    pool = {f"stored:{h}": s for h, s in stored.items()}
    pool.update({f"live:{key}": o.score for key, o in outcomes.items()})
    # warmstart's best of k is the best of its answer to a request for k (``_asked``).
    asked = {k: orders.pop(_asked(k)) for k in context.ks if _asked(k) in orders}
    asked[max(context.ks)] = orders["warmstart"]
    regret = {
        method: regret_curve(
            pool,
            [f"live:{key}" for key in keys],
            (1,) if method in SINGLE_CONFIG_METHODS else context.ks,
        )
        for method, keys in orders.items()
    }
    regret["warmstart"] = {
        k: regret_curve(pool, [f"live:{key}" for key in asked[k]], (k,))[k] for k in context.ks
    }
    finite = [s for s in pool.values() if np.isfinite(s)]
    stored_finite = [s for s in stored.values() if np.isfinite(s)]
    live_finite = [o.score for o in outcomes.values() if np.isfinite(o.score)]
    gaps = [
        abs(outcomes[h].score - stored[h])
        for h in outcomes
        if h in stored and np.isfinite(stored[h]) and np.isfinite(outcomes[h].score)
    ]
    errors = {}
    for method, keys in orders.items():
        for i, key in enumerate(keys):
            if outcomes[key].error:
                label = method if method in SINGLE_CONFIG_METHODS else f"{method}#{i + 1}"
                errors[label] = str(outcomes[key].error)
    config_scores = {
        method: tuple(outcomes[key].score for key in keys) for method, keys in orders.items()
    }
    top = outcomes[asked[1][0]].score if asked[1] else np.nan
    return LiveTaskResult(
        task_id=data.task.task_id,
        name=data.task.name,
        family=family,
        fold=fold,
        task_type=data.task.task_type.value,
        rows_used=rows_used,
        scores={
            m: top if m == "warmstart" else scores[0] if scores else np.nan
            for m, scores in config_scores.items()
        },
        warmstart_scores=config_scores["warmstart"],
        config_scores=config_scores,
        regret=regret,
        best=max(finite),
        worst=min(finite),
        n_stored=len(stored),
        new_best=bool(live_finite and stored_finite) and max(live_finite) > max(stored_finite),
        stored_gap=max(gaps) if gaps else None,
        flaml_params=_flaml_params(data, context) if context.with_flaml else None,
        errors=errors,
        seconds=time.perf_counter() - start,
        timeouts=sum(o.timed_out for o in outcomes.values()),
        top5=tuple(asked[5] if 5 in asked else asked[max(context.ks)][:5]),
    )


def _suggested(
    recommender: Recommender,
    features: Mapping[str, float],
    k: int,
    rows: int,
    max_fit_seconds: float | None,
    name: str,
    notes: list[str],
) -> list[dict[str, ConfigValue]]:
    """The answer to a request for k configs trained on ``rows`` rows, each predicted to
    fit within ``max_fit_seconds`` where it is given; where no candidate is, the answer
    without the limit (and a note saying so)."""
    try:
        answer = recommender.suggest(features, k, train_rows=rows, max_fit_seconds=max_fit_seconds)
    except FailedPreconditionError as error:
        if max_fit_seconds is None:
            raise
        notes.append(f"{name}: {error}; asked again without the fit-time limit")
        answer = recommender.suggest(features, k, train_rows=rows)
    return [dict(s.config) for s in answer.suggestions]


def _asked(k: int) -> str:
    """The key of warmstart's answer to a request for ``k`` configs among a task's methods."""
    return f"warmstart:k={k}"


def _set_rule_note(training: Mapping[str, Any], metrics: Mapping[str, float]) -> str:
    """How a fold's bundle chose its set rules, from what the bundle records."""
    rules = training.get("set_rules", {})
    served = ", ".join(f"k >= {k}: {rule}" for k, rule in rules.items())
    if "validation.tasks" not in metrics:
        return f"{served} (the default: too few families in the training folds to validate)"
    leaf = (
        f"; leaves of {metrics['surrogate.leaf_rows']:.0f} rows, chosen on the same folds"
        if "surrogate.leaf_rows" in metrics
        else ""
    )
    full = training.get("set_rules_full_size")
    above = training.get("full_size_above_rows")
    whole = (
        f"; above {above:,} rows: "
        + ", ".join(f"k >= {k}: {rule}" for k, rule in full.items())
        + f", chosen on {metrics.get('validation.full_size.tasks', 0):.0f} inner tasks' "
        "full-size pools"
        if full and isinstance(above, int)
        else ""
    )
    return (
        f"{served}, chosen on {metrics['validation.folds']:.0f} inner family folds of "
        f"{metrics['validation.tasks']:.0f} of its training tasks{leaf}{whole}"
    )


def _neighbour_configs(
    recommender: Recommender, features: Mapping[str, float], matrix: ScoreMatrix, k: int
) -> list[dict[str, ConfigValue]]:
    """The distinct best configs of the nearest training tasks, the first ``k`` (pool mode's)."""
    by_hash = dict(zip(matrix.config_hashes, matrix.configs, strict=True))
    described = recommender.probes.inputs(features, read=False)  # meta-features alone
    order = list(dict.fromkeys(neighbour_order(recommender.index, described, matrix)))
    return [dict(by_hash[h]) for h in order[:k]]


def _probed(data: TaskData, bundle: ModelBundle, learner: Learner) -> dict[str, float]:
    """The bundle's probes trained on the held-out task, as a request's features (none where
    it reads none at any k): what the service runs on a user's table."""
    if not bundle.reads_probes:
        return {}
    configs = [config for _, config in bundle.probes]
    scores = probe_scores(data, learner, bundle.space.space_id, configs)
    return probe_request({h: s for (h, _), s in zip(bundle.probes, scores, strict=True)})


def _flaml_params(data: TaskData, context: _Context) -> dict[str, Any] | None:
    """FLAML's choice on the task's evaluated rows, for the report (None if it fails)."""
    X, y = cap_rows(data, context.protocol, context.seed)
    try:
        return flaml_lightgbm_params(data.task.task_type, X, y)
    except Exception:
        return None


def evaluate_live(
    store: RecordStore,
    suite: Suite,
    space_name: str,
    feature_version: str,
    settings: LiveSettings | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    suite_spec: str | None = None,
    checkpoint: Path | None = None,
    fresh: bool = False,
) -> LiveEvaluation:
    """Run the leave-family-out live evaluation of one space on tasks of ``suite``.

    Args:
        store: Records, tasks and meta-features (only read).
        suite: The suite the held-out tasks' data are loaded from.
        space_name: The search space (learner) name, e.g. ``"lightgbm"``.
        feature_version: The meta-feature version the bundles use.
        settings: How to run (default :class:`LiveSettings`).
        progress: Called with a line of text as the evaluation advances.
        suite_spec: The spec string ``suite`` was loaded from (as
            :func:`~warmstart.benchmarks.tasks.load_suite` takes it); needed with
            a time limit, since the worker processes load the tasks themselves.
        checkpoint: A folder where each held-out task's result is written as soon
            as it is finished; the tasks it already holds are loaded, not trained
            (``None``: no checkpoint).
        fresh: Discard what the checkpoint holds and start over.

    Returns:
        Per-task scores and regrets, with the protocol used: the same whether or
        not some tasks came from the checkpoint.

    Raises:
        InvalidRequestError: Bad settings, a time limit without ``suite_spec``, or
            ``fresh`` without a checkpoint.
        NotFoundError: No space or learner of that name.
        FailedPreconditionError: Too few families, a stored space that differs
            from the learner's, no held-out task in the suite, a checkpoint made
            by an evaluation with another fingerprint (naming what differs) or a
            checkpoint file that cannot be read (naming it).
    """
    settings = settings or LiveSettings()
    settings.check()
    if fresh and checkpoint is None:
        raise InvalidRequestError("fresh discards a checkpoint: give its folder (checkpoint)")
    limit = None
    if settings.time_limit is not None:
        if suite_spec is None:
            raise InvalidRequestError(
                f"a time limit ({settings.time_limit:g} s) needs the suite's spec string "
                "(suite_spec, e.g. 'pmlb:PATH'): configs under a limit are trained in worker "
                "processes that load the tasks from it"
            )
        limit = _Limit(settings.time_limit, suite_spec)
    say = progress or (lambda _: None)
    learner, space = learner_of_stored_space(store, space_name, "suggestions")
    split = load_evaluation_data(
        store,
        space_name,
        feature_version,
        settings.n_folds,
        settings.seed,
        probes=settings.train.probes > 0,
    )
    features, usable, families = split.features, split.usable, split.families
    fold_of, names = split.fold_of, split.names
    tasks = {t.task_id: t for t in store.list_tasks()}
    in_suite = suite_names(suite, names)
    notes: list[str] = []
    if len(in_suite) < len(usable):
        notes.append(
            f"{len(usable) - len(in_suite)} of {len(usable)} tasks are not in suite "
            f"{suite.name!r}: they train the folds' bundles but are not held out live"
        )
    if not in_suite:
        raise FailedPreconditionError(
            f"none of the {len(usable)} tasks with records is in suite {suite.describe()!r}; "
            "give the suite the records were made from"
        )
    sized = within_rows(in_suite, tasks, settings.min_rows, settings.max_rows)
    if not sized:
        raise FailedPreconditionError(
            f"no task of suite {suite.describe()!r} with records has between "
            f"{settings.min_rows or 1} and {settings.max_rows or 'any number of'} rows"
        )
    chosen = spread_over_families(sorted(sized), families, settings.max_tasks, settings.seed)
    protocol, cv_seed, protocol_note = resolve_protocol(
        recorded_protocol((r for rs in usable.values() for r in rs), tasks),
        folds=settings.cv_folds,
        row_cap=settings.row_cap,
        seed=settings.cv_seed,
    )
    with_flaml = False
    if settings.flaml and space_name == "lightgbm":
        missing = flaml_missing_reason()
        with_flaml = missing is None
        if missing:
            notes.append(missing)
            say(missing)
    methods = tuple(m for m in LIVE_METHODS if with_flaml or m not in FLAML_METHODS)
    context = _Context(
        learner=learner,
        learner_spec=learner.name,
        space_id=space.space_id,
        protocol=protocol,
        seed=cv_seed,
        ks=settings.ks,
        with_flaml=with_flaml,
        fold_seed=settings.seed,
        limit=limit,
    )
    per_config = "" if limit is None else f"; at most {limit.seconds:g} s per config"
    say(f"live protocol: {protocol_note}; {len(chosen)} held-out tasks{per_config}")
    saved = None
    if checkpoint is not None:
        fingerprint = live_fingerprint(
            space=space,
            feature_version=feature_version,
            settings=settings,
            methods=methods,
            records=records_hash(usable, features, tasks, families),
            suite=suite.describe(),
            held_out=chosen,
        )
        held_out = {t: fold_of[t] for t in chosen}
        saved = LiveCheckpoint.open(Path(checkpoint), fingerprint, held_out, fresh=fresh)
        say(f"checkpoint {checkpoint}: {saved.n_done} of {len(chosen)} held-out tasks already done")
    max_k = max(settings.ks)
    # Under a time limit the request states it, as a user with that budget would: each
    # config is fit once per CV fold within the limit, and each fold also predicts, scores
    # and (first) starts the worker, so one fit may take the limit over the folds plus one.
    fits = 1 if protocol.holdout else protocol.folds
    fit_limit = None if limit is None else limit.seconds / (fits + 1)
    # Results by task id, in the order an uninterrupted run gives them (fold by fold).
    finished: dict[str, LiveTaskResult] = {}
    order: list[str] = []
    set_rules: dict[int, str] = {}

    def restore(task_id: str) -> None:
        """Take a task from the checkpoint: its result, or the note saying it was skipped."""
        assert saved is not None
        result = saved.result(task_id)
        if result is None:
            notes.append(str(saved.skipped(task_id)))
        else:
            finished[task_id] = result
            order.append(task_id)

    def skip(task_id: str, note: str | None = None) -> None:
        """Note that a task was skipped (``None``: the last note says it), and keep it."""
        if note is not None:
            notes.append(note)
        if saved is not None:
            saved.save_skipped(task_id, notes[-1])

    # Tasks are trained in worker processes (spawned: a forked child of a process whose
    # OpenMP pool is running can hang); their suggestions are made here, fold by fold.
    pool = (
        ProcessPoolExecutor(settings.workers, mp_context=multiprocessing.get_context("spawn"))
        if settings.workers > 1
        else None
    )
    running: dict[Future[LiveTaskResult], str] = {}  # each task's future and task name
    submitted = 0
    try:
        for fold in range(settings.n_folds):
            test_ids = [t for t in chosen if fold_of[t] == fold]
            if not test_ids:
                continue
            kept_rule = None if saved is None else saved.set_rule(fold)
            if saved is not None and kept_rule is not None and all(map(saved.done, test_ids)):
                # Every held-out task of the fold is done: no bundle to train.
                say(f"fold {fold + 1}/{settings.n_folds}: every held-out task is in the checkpoint")
                set_rules[fold] = kept_rule
                submitted += len(test_ids)
                for task_id in test_ids:
                    restore(task_id)
                continue
            train_ids = {t for t, f in fold_of.items() if f != fold}
            say(f"fold {fold + 1}/{settings.n_folds}: training on {len(train_ids)} tasks")
            train_records = [r for t in sorted(train_ids) for r in usable[t]]
            bundle = split.train(train_records, feature_version, settings.train)
            recommender = bundle.recommender()
            set_rules[fold] = _set_rule_note(bundle.training, bundle.metrics)
            if saved is not None:
                saved.save_set_rule(fold, set_rules[fold])
            matrix = score_matrix(train_records)
            shared: dict[str, list[dict[str, ConfigValue]]] = {
                "default": [learner.default_config()],
                "single_best": [_single_best(matrix)],
                "greedy_portfolio": [
                    dict(matrix.configs[i]) for i in greedy_portfolio(matrix, max_k)
                ],
            }
            for task_id in test_ids:
                submitted += 1
                step = (
                    f"fold {fold + 1}/{settings.n_folds}: {names[task_id]} "
                    f"({submitted}/{len(chosen)})"
                )
                if saved is not None and saved.done(task_id):
                    say(f"{step}: in the checkpoint")
                    restore(task_id)
                    continue
                say(step)
                data = held_out_data(suite, in_suite[task_id], task_id, names[task_id], notes)
                if data is None:
                    skip(task_id)
                    continue
                feats = features[task_id].as_dict() | _probed(data, bundle, learner)
                # As a user would: the request states the rows the configs will be trained on.
                # A request for k configs is answered by the set rule served at k: best of
                # k is measured on the answer to k, not on the first k of a longer answer.
                rows = evaluated_rows(data, protocol)
                answers = {
                    k: _suggested(recommender, feats, k, rows, fit_limit, names[task_id], notes)
                    for k in settings.ks
                }
                suggested = answers[max_k]
                if not suggested:
                    skip(task_id, f"{names[task_id]} skipped: the model suggested no config")
                    continue
                configs: dict[str, list[dict[str, ConfigValue]]] = {
                    "warmstart": suggested,
                    **{_asked(k): answers[k] for k in settings.ks if k != max_k},
                    **shared,
                    "nearest_neighbour": _neighbour_configs(recommender, feats, matrix, max_k),
                }
                job = (
                    context,
                    data,
                    in_suite[task_id],
                    families[task_id],
                    fold,
                    configs,
                    usable[task_id],
                )
                order.append(task_id)
                if pool is None:
                    finished[task_id] = _task_result(*job)
                    if saved is not None:
                        saved.save_result(finished[task_id])
                else:
                    future = pool.submit(_task_result, *job)
                    if saved is not None:
                        # Written from the pool's thread the moment the task lands.
                        future.add_done_callback(saved.keep_landed)
                    running[future] = names[task_id]
        for n_trained, future in enumerate(as_completed(running), start=1):
            result = future.result()
            if saved is not None:
                saved.save_result(result)  # no-op when its done-callback saved it
            finished[result.task_id] = result
            say(f"trained {running[future]} ({n_trained}/{len(running)})")
    finally:
        if pool is not None:
            # Waits for the running tasks (their done-callbacks still save them).
            pool.shutdown(cancel_futures=True)
    results = [finished[t] for t in order]
    if not results:
        raise NotFoundError("no held-out task could be evaluated live: " + "; ".join(notes))
    return LiveEvaluation(
        space_name,
        settings,
        protocol,
        cv_seed,
        protocol_note,
        methods,
        results,
        split.n_records,
        notes,
        set_rules,
    )
