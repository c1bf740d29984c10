"""Live-mode evaluation: train the suggested configs on the held-out tasks for real.

Leave-family-out with pool mode's folds (:func:`metamodel.evaluation.family_folds`).
For each fold a bundle is trained on the other folds' records only. Each
held-out task is loaded from its suite and these are evaluated on it with the
protocol of the stored records (same CV folds, row cap and seed, through the
runner's own :func:`benchmarks.runner.evaluate_config`):

- ``warmstart``: the bundle's top-k suggestions (``Recommender.suggest``);
- ``default``: the learner's library default;
- ``single_best``: the config with the best mean normalised score over the
  training tasks (pool mode's rule);
- ``flaml_zeroshot``: FLAML's zero-shot LightGBM (``flaml.default``), when the
  space is LightGBM's and FLAML is installed (see :mod:`benchmarks.live._flaml`).

Normalised regret follows HPO-B: ``(best_t - score) / (best_t - worst_t)``,
where best and worst are over the task's stored records *and* every score
measured during the comparison; a failed evaluation counts as the worst.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.learners import Learner, get_learner
from benchmarks.live._flaml import FLAML_LIGHTGBM, flaml_lightgbm_params, flaml_missing_reason
from benchmarks.live._protocol import recorded_protocol, resolve_protocol
from benchmarks.live._split import (
    spread_over_families,
    stored_scores,
)
from benchmarks.live._types import LIVE_METHODS, LiveEvaluation, LiveSettings, LiveTaskResult
from benchmarks.runner import Protocol, cap_rows, evaluate_config
from benchmarks.tasks import Suite, TaskData
from metamodel.bundle._train import train_from_records
from metamodel.errors import FailedPreconditionError, NotFoundError
from metamodel.evaluation import load_evaluation_data, regret_curve
from metamodel.portfolio import ScoreMatrix, score_matrix
from metamodel.spaces import config_hash, make_search_space
from metamodel.store import RecordStore
from metamodel.types import ConfigValue, RecordStatus

__all__ = ["evaluate_live"]


def _single_best(matrix: ScoreMatrix) -> dict[str, ConfigValue]:
    """The config with the best mean normalised score over the training tasks (missing = 0)."""
    means = np.nan_to_num(matrix.scores, nan=0.0).mean(axis=0)
    return dict(matrix.configs[int(np.argmax(means))])


@dataclass(frozen=True)
class _Outcome:
    score: float
    error: str | None


def _run(
    data: TaskData,
    learner: Learner,
    config: Mapping[str, ConfigValue],
    protocol: Protocol,
    seed: int,
    space_id: str,
) -> _Outcome:
    """One live evaluation through the runner's protocol; an exception is a failure."""
    result = evaluate_config(data, learner, space_id, config, protocol, seed, suite="live")
    if result.status is not RecordStatus.OK or result.score is None:
        return _Outcome(float("nan"), result.error or result.status.value)
    return _Outcome(float(result.score), None)


@dataclass(frozen=True)
class _Context:
    """What every held-out task's evaluation shares."""

    learner: Learner
    space_id: str
    protocol: Protocol
    seed: int
    ks: tuple[int, ...]
    with_flaml: bool


def _evaluate_task(
    context: _Context,
    data: TaskData,
    suggested: Sequence[Mapping[str, ConfigValue]],
    baselines: Mapping[str, Mapping[str, ConfigValue]],
) -> tuple[dict[str, _Outcome], list[str], dict[str, str]]:
    """Evaluate every distinct config once (a baseline that warmstart also suggested is shared).

    Returns:
        The outcome of each config by hash (FLAML's under ``"flaml_zeroshot"``),
        warmstart's hashes in order, and each baseline's key into the outcomes.
    """
    distinct: dict[str, Mapping[str, ConfigValue]] = {}
    ours = [config_hash(c) for c in suggested]
    for digest, config in zip(ours, suggested, strict=True):
        distinct.setdefault(digest, config)
    firsts = {method: config_hash(config) for method, config in baselines.items()}
    for method, digest in firsts.items():
        distinct.setdefault(digest, baselines[method])
    outcomes = {
        digest: _run(
            data, context.learner, config, context.protocol, context.seed, context.space_id
        )
        for digest, config in distinct.items()
    }
    if context.with_flaml:
        firsts["flaml_zeroshot"] = "flaml_zeroshot"
        outcomes["flaml_zeroshot"] = _run(
            data, FLAML_LIGHTGBM, {}, context.protocol, context.seed, ""
        )
    return outcomes, ours, firsts


def _task_result(
    context: _Context,
    data: TaskData,
    family: str,
    fold: int,
    suggested: Sequence[Mapping[str, ConfigValue]],
    baselines: Mapping[str, Mapping[str, ConfigValue]],
    stored: Mapping[str, float],
) -> LiveTaskResult:
    start = time.perf_counter()
    outcomes, ours, firsts = _evaluate_task(context, data, suggested, baselines)
    # One pool of scores: the stored records and everything measured live.
    pool = {f"stored:{h}": s for h, s in stored.items()}
    pool.update({f"live:{key}": o.score for key, o in outcomes.items()})
    regret = {"warmstart": regret_curve(pool, [f"live:{h}" for h in ours], context.ks)}
    for method, key in firsts.items():
        regret[method] = regret_curve(pool, [f"live:{key}"], (1,))
    finite = [s for s in pool.values() if np.isfinite(s)]
    stored_finite = [s for s in stored.values() if np.isfinite(s)]
    live_finite = [o.score for o in outcomes.values() if np.isfinite(o.score)]
    gaps = [
        abs(outcomes[h].score - stored[h])
        for h in outcomes
        if h in stored and np.isfinite(stored[h]) and np.isfinite(outcomes[h].score)
    ]
    errors = {
        method: str(outcomes[key].error) for method, key in firsts.items() if outcomes[key].error
    }
    errors.update(
        {
            f"warmstart#{i + 1}": str(outcomes[h].error)
            for i, h in enumerate(ours)
            if outcomes[h].error
        }
    )
    return LiveTaskResult(
        task_id=data.task.task_id,
        name=data.task.name,
        family=family,
        fold=fold,
        task_type=data.task.task_type.value,
        scores={"warmstart": outcomes[ours[0]].score}
        | {method: outcomes[key].score for method, key in firsts.items()},
        warmstart_scores=tuple(outcomes[h].score for h in ours),
        regret=regret,
        best=max(finite),
        worst=min(finite),
        n_stored=len(stored),
        new_best=bool(live_finite) and max(live_finite) > max(stored_finite),
        stored_gap=max(gaps) if gaps else None,
        flaml_params=_flaml_params(data, context) if context.with_flaml else None,
        errors=errors,
        seconds=time.perf_counter() - start,
    )


def _flaml_params(data: TaskData, context: _Context) -> dict[str, Any] | None:
    """FLAML's choice on the task's evaluated rows, for the report (None if it fails)."""
    X, y = cap_rows(data, context.protocol, context.seed)
    try:
        return flaml_lightgbm_params(data.task.task_type, X, y)
    except Exception:
        return None


def _suite_names(suite: Suite, task_names: Mapping[str, str]) -> dict[str, str]:
    """Name in the suite of each stored task that comes from it."""
    prefix = f"{suite.name}/"
    listed = set(suite.task_names())
    out = {}
    for task_id, name in task_names.items():
        short = name.removeprefix(prefix)
        if name.startswith(prefix) and short in listed:
            out[task_id] = short
    return out


def evaluate_live(
    store: RecordStore,
    suite: Suite,
    space_name: str,
    feature_version: str,
    settings: LiveSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> LiveEvaluation:
    """Run the leave-family-out live evaluation of one space on tasks of ``suite``.

    Args:
        store: Records, tasks and meta-features (only read).
        suite: The suite the held-out tasks' data are loaded from.
        space_name: The search space (learner) name, e.g. ``"lightgbm"``.
        feature_version: The meta-feature version the bundles use.
        settings: How to run (default :class:`LiveSettings`).
        progress: Called with a line of text as the evaluation advances.

    Returns:
        Per-task scores and regrets, with the protocol used.

    Raises:
        InvalidRequestError: Bad settings.
        NotFoundError: No space or learner of that name.
        FailedPreconditionError: Too few families, a stored space that differs
            from the learner's, or no held-out task in the suite.
    """
    settings = settings or LiveSettings()
    settings.check()
    say = progress or (lambda _: None)
    learner = get_learner(space_name)
    space = store.find_space(space_name)
    if make_search_space(learner.name, learner.search_space()).space_id != space.space_id:
        raise FailedPreconditionError(
            f"the stored space {space_name!r} ({space.space_id}) is not the learner's current "
            "space: its suggestions could not be trained; re-run `warmstart bench run`"
        )
    split = load_evaluation_data(
        store, space_name, feature_version, settings.n_folds, settings.seed
    )
    features, usable, families = split.features, split.usable, split.families
    fold_of, names = split.fold_of, split.names
    tasks = {t.task_id: t for t in store.list_tasks()}
    in_suite = _suite_names(suite, names)
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
    chosen = spread_over_families(sorted(in_suite), families, settings.max_tasks, settings.seed)
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
    methods = LIVE_METHODS if with_flaml else LIVE_METHODS[:-1]
    context = _Context(learner, space.space_id, protocol, cv_seed, settings.ks, with_flaml)
    say(f"live protocol: {protocol_note}; {len(chosen)} held-out tasks")
    results: list[LiveTaskResult] = []
    for fold in range(settings.n_folds):
        test_ids = [t for t in chosen if fold_of[t] == fold]
        if not test_ids:
            continue
        train_ids = {t for t, f in fold_of.items() if f != fold}
        say(f"fold {fold + 1}/{settings.n_folds}: training on {len(train_ids)} tasks")
        train_records = [r for t in sorted(train_ids) for r in usable[t]]
        bundle = train_from_records(
            space,
            train_records,
            features,
            names,
            feature_version,
            settings.train,
            families=families,
        )
        recommender = bundle.recommender()
        baselines = {
            "default": learner.default_config(),
            "single_best": _single_best(score_matrix(train_records)),
        }
        for task_id in test_ids:
            done = f"{len(results) + 1}/{len(chosen)}"
            say(f"fold {fold + 1}/{settings.n_folds}: {names[task_id]} ({done})")
            data = suite.load(in_suite[task_id])
            if data.task.task_id != task_id:
                notes.append(
                    f"{names[task_id]} skipped: its data in the suite have id "
                    f"{data.task.task_id}, the records' task is {task_id}"
                )
                continue
            advice = recommender.suggest(features[task_id].as_dict(), max(settings.ks))
            suggested = [s.config for s in advice.suggestions]
            if not suggested:
                notes.append(f"{names[task_id]} skipped: the model suggested no config")
                continue
            results.append(
                _task_result(
                    context,
                    data,
                    families[task_id],
                    fold,
                    suggested,
                    baselines,
                    stored_scores(usable[task_id]),
                )
            )
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
    )
