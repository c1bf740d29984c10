"""What a refresh evaluates next within a budget: new tasks, then where the model would learn most.

Two phases, both deterministic for a seed:

1. **New tasks** (tasks of the suite with no record of the space yet). Each
   gets up to ``new_task_configs`` configs: the library default, then the
   serving model's suggestions for it, then the space's quasi-random configs.
   Tasks are served round-robin (every new task's first config, then every
   second...), so a small budget still touches every new task.
2. **Known tasks.** The serving model suggests configs not yet evaluated on
   each task; each suggestion's priority is its ensemble spread (where the
   model is least certain) plus how much better the model predicts it than
   the task's stored best config (where the suggestions would change most: the
   stored best is far from the predicted best). The highest priorities win, at
   most ``per_task`` per task. Without a serving model, unevaluated
   quasi-random configs of the known tasks are taken in a seeded random order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.recommend import MAX_K, Recommender
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, RecordStatus, TaskFeatures

__all__ = ["Candidate", "SelectionSettings", "select_candidates"]

NEW_TASK = "new task"
UNCERTAIN = "uncertain"
WOULD_CHANGE = "would change"
COVERAGE = "coverage"


@dataclass(frozen=True)
class SelectionSettings:
    """How the budget is spent.

    Attributes:
        budget: Evaluations to choose at most.
        new_task_configs: Configs per new task at most.
        suggestions_per_task: Suggestions asked of the model per known task.
        per_task: Evaluations per known task at most.
        seed: Seed of every random choice and of the model's candidate sampling.
    """

    budget: int
    new_task_configs: int = 8
    suggestions_per_task: int = 10
    per_task: int = 3
    seed: int = 0

    def check(self) -> None:
        """Raise :class:`InvalidRequestError` for values out of range."""
        if self.budget < 0:
            raise InvalidRequestError(f"the budget must be >= 0 evaluations, got {self.budget}")
        if min(self.new_task_configs, self.suggestions_per_task, self.per_task) < 1:
            raise InvalidRequestError(
                "configs per new task, suggestions per task and evaluations per task must be "
                f">= 1, got {self.new_task_configs}, {self.suggestions_per_task}, {self.per_task}"
            )
        if max(self.new_task_configs, self.suggestions_per_task) > MAX_K:
            raise InvalidRequestError(
                f"configs per new task and suggestions per task must be <= {MAX_K} (the most "
                f"one suggestion request gives), got {self.new_task_configs}, "
                f"{self.suggestions_per_task}"
            )


@dataclass(frozen=True)
class Candidate:
    """One evaluation a refresh will run.

    Attributes:
        task_id: The task.
        config: The config to evaluate.
        config_hash: Its hash.
        reason: ``new task``, ``uncertain``, ``would change`` or ``coverage``.
        priority: Higher first (spread + predicted gain over the stored best; 0 for others).
        predicted_score: The serving model's normalised prediction (NaN without a model).
        uncertainty: The ensemble's spread (NaN without a model).
    """

    task_id: str
    config: dict[str, ConfigValue]
    config_hash: str
    reason: str
    priority: float = 0.0
    predicted_score: float = float("nan")
    uncertainty: float = float("nan")


def _by_task(records: Sequence[EvaluationRecord]) -> dict[str, list[EvaluationRecord]]:
    out: dict[str, list[EvaluationRecord]] = {}
    for record in records:
        out.setdefault(record.task_id, []).append(record)
    return out


def _seeded_order(items: Sequence[str], seed: int, salt: int) -> list[str]:
    order = np.random.default_rng([seed, salt]).permutation(len(items))
    return [items[i] for i in order]


def _new_task_lists(
    new_tasks: Sequence[str],
    features: Mapping[str, TaskFeatures],
    recommender: Recommender | None,
    default: dict[str, ConfigValue],
    sampled: Sequence[dict[str, ConfigValue]],
    settings: SelectionSettings,
) -> list[list[Candidate]]:
    lists: list[list[Candidate]] = []
    for task_id in _seeded_order(sorted(new_tasks), settings.seed, 1):
        configs: list[tuple[dict[str, ConfigValue], float, float]] = [(default, np.nan, np.nan)]
        if recommender is not None and task_id in features:
            answer = recommender.suggest(features[task_id].as_dict(), settings.new_task_configs)
            configs += [
                (dict(s.config), s.predicted_score, s.uncertainty) for s in answer.suggestions
            ]
        configs += [(dict(c), np.nan, np.nan) for c in sampled]
        chosen: dict[str, Candidate] = {}
        for config, score, spread in configs:
            digest = config_hash(config)
            if digest not in chosen and len(chosen) < settings.new_task_configs:
                chosen[digest] = Candidate(task_id, config, digest, NEW_TASK, 0.0, score, spread)
        lists.append(list(chosen.values()))
    return lists


def _round_robin(lists: list[list[Candidate]], budget: int) -> list[Candidate]:
    out: list[Candidate] = []
    depth = 0
    while len(out) < budget and any(depth < len(items) for items in lists):
        out.extend(items[depth] for items in lists if depth < len(items))
        depth += 1
    return out[:budget]


def _model_candidates(
    task_id: str,
    task_records: list[EvaluationRecord],
    features: TaskFeatures,
    recommender: Recommender,
    settings: SelectionSettings,
) -> list[Candidate]:
    feats = features.as_dict()
    tried = [dict(r.config) for r in task_records]
    answer = recommender.suggest(feats, settings.suggestions_per_task, exclude=tried)
    ok = [r for r in task_records if r.status is RecordStatus.OK and r.score is not None]
    stored_best = max(ok, key=lambda r: (r.score, r.config_hash)) if ok else None
    baseline = -np.inf
    if stored_best is not None:
        baseline = float(recommender.predict(feats, [stored_best.config])[0][0])
    out = []
    for suggestion in answer.suggestions:
        gain = max(0.0, suggestion.predicted_score - baseline) if np.isfinite(baseline) else 0.0
        spread = suggestion.uncertainty
        reason = WOULD_CHANGE if gain > spread else UNCERTAIN
        config = dict(suggestion.config)
        out.append(
            Candidate(
                task_id,
                config,
                config_hash(config),
                reason,
                float(spread + gain),
                suggestion.predicted_score,
                spread,
            )
        )
    return out


def _known_task_candidates(
    known_tasks: Sequence[str],
    by_task: Mapping[str, list[EvaluationRecord]],
    features: Mapping[str, TaskFeatures],
    recommender: Recommender | None,
    sampled: Sequence[dict[str, ConfigValue]],
    settings: SelectionSettings,
    budget: int,
) -> list[Candidate]:
    if budget <= 0:
        return []
    pool: list[Candidate] = []
    for task_id in sorted(known_tasks):
        task_records = by_task.get(task_id, [])
        if recommender is not None and task_id in features:
            try:
                pool.extend(
                    _model_candidates(
                        task_id, task_records, features[task_id], recommender, settings
                    )
                )
            except FailedPreconditionError:  # every candidate tried already: nothing to add
                continue
        else:
            tried = {r.config_hash for r in task_records}
            pool.extend(
                Candidate(task_id, dict(c), h, COVERAGE)
                for c in sampled
                if (h := config_hash(c)) not in tried
            )
    # A seeded random key breaks ties, so equal priorities do not favour task-name order.
    ties = np.random.default_rng([settings.seed, 2]).random(len(pool))
    order = sorted(range(len(pool)), key=lambda i: (-pool[i].priority, ties[i]))
    taken: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    out: list[Candidate] = []
    for i in order:
        candidate = pool[i]
        key = (candidate.task_id, candidate.config_hash)
        if key in seen or taken.get(candidate.task_id, 0) >= settings.per_task:
            continue
        seen.add(key)
        taken[candidate.task_id] = taken.get(candidate.task_id, 0) + 1
        out.append(candidate)
        if len(out) == budget:
            break
    return out


def select_candidates(
    *,
    new_tasks: Sequence[str],
    known_tasks: Sequence[str],
    records: Sequence[EvaluationRecord],
    features: Mapping[str, TaskFeatures],
    recommender: Recommender | None,
    default: dict[str, ConfigValue],
    sampled: Sequence[dict[str, ConfigValue]],
    settings: SelectionSettings,
) -> list[Candidate]:
    """Choose up to ``settings.budget`` evaluations (see the module docstring for the order).

    Args:
        new_tasks: Tasks with no record of the space.
        known_tasks: Tasks with records that the runner can evaluate (of the suite).
        records: The space's stored records (what was tried, the stored best).
        features: Meta-features by task id.
        recommender: The serving model's recommender (``None``: no serving model).
        default: The learner's library default config.
        sampled: Quasi-random configs of the space (a fixed set for every task).
        settings: Budget, caps and seed.

    Returns:
        Candidates in the order they should run; no (task, config) twice, none already stored.
    """
    settings.check()
    by_task = _by_task(records)
    new_lists = _new_task_lists(new_tasks, features, recommender, default, sampled, settings)
    chosen = _round_robin(new_lists, settings.budget)
    left = settings.budget - len(chosen)
    rest = _known_task_candidates(
        known_tasks, by_task, features, recommender, sampled, settings, left
    )
    return chosen + rest
