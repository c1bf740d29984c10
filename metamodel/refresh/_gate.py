"""The publish gate: is a model trained on today's records at least as good as the serving one?

The comparison is the leave-family-out pool evaluation run twice with the same
training procedure, on the same folds and the same held-out tasks: once
training on the current records ("candidate"), once on only the records the
serving model was trained on ("serving"). Each held-out task is scored on its
current records, the fullest pool, so both sides are judged on the same
configs; only what each side learned from differs. The candidate passes when
its mean regret@k is at most the serving side's plus the tolerance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from warmstart.metamodel.bundle import TrainSettings, train_from_records
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.evaluation import family_folds, regret_curve
from warmstart.metamodel.recommend import Recommender, RecommenderSettings
from warmstart.metamodel.types import EvaluationRecord, RecordStatus, SearchSpace, TaskFeatures

__all__ = ["GateResult", "GateSettings", "compare_training_sets", "usable_tasks"]


@dataclass(frozen=True)
class GateSettings:
    """How the gate compares.

    Attributes:
        k: Regret of the best of the first k suggestions.
        n_folds: Leave-family-out folds (fewer if there are fewer families; at least 2).
        tolerance: The candidate may be worse by this much mean regret and still pass.
        seed: Seed of the folds and of the recommender.
        train: The training procedure (the one the published model is trained with).
    """

    k: int = 5
    n_folds: int = 5
    tolerance: float = 0.0
    seed: int = 0
    train: TrainSettings = field(default_factory=TrainSettings)

    def check(self) -> None:
        """Raise :class:`InvalidRequestError` for values out of range."""
        if self.k < 1:
            raise InvalidRequestError(f"k must be >= 1, got {self.k}")
        if self.n_folds < 2:
            raise InvalidRequestError(f"the gate needs >= 2 folds, got {self.n_folds}")
        if not np.isfinite(self.tolerance):
            raise InvalidRequestError(f"the tolerance must be finite, got {self.tolerance}")


@dataclass(frozen=True)
class GateResult:
    """Both sides' regret on the same held-out tasks, and the verdict.

    Attributes:
        k: The k of regret@k.
        n_folds: Folds used.
        tolerance: Allowed excess regret.
        candidate: Regret@k per held-out task, trained on the current records.
        serving: Regret@k per held-out task, trained on the serving model's records.
        skipped_folds: Folds where the serving side had no training task (left out of both).
        candidate_records: Records the candidate side was trained on (all folds' union).
        serving_records: Records the serving side was trained on (all folds' union).
    """

    k: int
    n_folds: int
    tolerance: float
    candidate: dict[str, float]
    serving: dict[str, float]
    skipped_folds: tuple[int, ...]
    candidate_records: int
    serving_records: int

    @property
    def mean_candidate(self) -> float:
        """Mean regret@k of the candidate side."""
        return float(np.mean(list(self.candidate.values()))) if self.candidate else float("nan")

    @property
    def mean_serving(self) -> float:
        """Mean regret@k of the serving side."""
        return float(np.mean(list(self.serving.values()))) if self.serving else float("nan")

    @property
    def passed(self) -> bool:
        """Whether the candidate is not worse than the serving side (within the tolerance)."""
        if not self.candidate:
            return True  # nothing to compare on: no evidence against the candidate
        return self.mean_candidate <= self.mean_serving + self.tolerance + 1e-12

    def reason(self) -> str:
        """One line that says why the gate passed or refused."""
        if not self.candidate:
            return "no held-out task could be compared; the gate has no evidence either way"
        figures = (
            f"mean regret@{self.k} on {len(self.candidate)} held-out tasks "
            f"({self.n_folds} leave-family-out folds): new {self.mean_candidate:.4f}, "
            f"serving {self.mean_serving:.4f}, tolerance {self.tolerance:g}"
        )
        if self.passed:
            return f"not worse: {figures}"
        return f"worse than allowed (new > serving + tolerance): {figures}"


def usable_tasks(
    records: Sequence[EvaluationRecord], features: Mapping[str, TaskFeatures]
) -> dict[str, list[EvaluationRecord]]:
    """Records by task, for tasks with meta-features and at least two distinct OK scores."""
    by_task: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        if record.task_id in features:
            by_task[record.task_id].append(record)
    return {
        t: rs
        for t, rs in by_task.items()
        if len({r.score for r in rs if r.status is RecordStatus.OK and r.score is not None}) >= 2
    }


def _scores(records: Sequence[EvaluationRecord]) -> dict[str, float]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for record in records:
        ok = record.status is RecordStatus.OK and record.score is not None
        grouped[record.config_hash].append(
            float(record.score) if ok and record.score is not None else np.nan
        )
    return {h: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan for h, v in grouped.items()}


def _regret(
    recommender: Recommender, features: TaskFeatures, pool: Sequence[EvaluationRecord], k: int
) -> float:
    scores = _scores(pool)
    hashes = sorted(scores)
    configs = {r.config_hash: dict(r.config) for r in pool}
    chosen = recommender.choose(features.as_dict(), [configs[h] for h in hashes], k)
    return regret_curve(scores, [hashes[i] for i in chosen], [k])[k]


def compare_training_sets(
    space: SearchSpace,
    current: Sequence[EvaluationRecord],
    served_on: Sequence[EvaluationRecord],
    features: Mapping[str, TaskFeatures],
    families: Mapping[str, str],
    task_names: Mapping[str, str],
    feature_version: str,
    settings: GateSettings,
    *,
    progress: Callable[[str], None] | None = None,
) -> GateResult:
    """Run the gate's paired leave-family-out comparison.

    Args:
        space: The search space.
        current: Every record of the space now.
        served_on: The records the serving model was trained on.
        features: Meta-features by task id.
        families: Family (or name) of every task id.
        task_names: Names by task id.
        feature_version: The meta-feature version.
        settings: k, folds, tolerance, seed and the training procedure.
        progress: Called with a line per fold.

    Raises:
        FailedPreconditionError: Fewer than two families have usable records.
    """
    settings.check()
    held = usable_tasks(current, features)
    old = usable_tasks(served_on, features)
    fams = {t: families.get(t, t) for t in held}
    n_folds = min(settings.n_folds, len(set(fams.values())))
    if n_folds < 2:
        raise FailedPreconditionError(
            f"the gate needs usable records on at least 2 task families, found {n_folds}"
        )
    fold_of = family_folds(fams, n_folds, settings.seed)
    recommender_settings = RecommenderSettings(seed=settings.seed)
    names = dict(task_names)
    candidate: dict[str, float] = {}
    serving: dict[str, float] = {}
    skipped: list[int] = []
    used_new: set[int] = set()
    used_old: set[int] = set()
    for fold in range(n_folds):
        test = sorted(t for t, f in fold_of.items() if f == fold)
        train_new = [r for t, rs in held.items() if fold_of[t] != fold for r in rs]
        train_old = [r for t, rs in old.items() if fold_of.get(t) != fold for r in rs]
        if not train_old or not train_new:
            skipped.append(fold)
            continue
        if progress is not None:
            progress(f"gate fold {fold + 1}/{n_folds}: {len(test)} held-out tasks")
        sides = []
        for train in (train_new, train_old):
            bundle = train_from_records(
                space, list(train), dict(features), names, feature_version, settings.train
            )
            sides.append(bundle.recommender(recommender_settings))
        for task_id in test:
            candidate[task_id] = _regret(sides[0], features[task_id], held[task_id], settings.k)
            serving[task_id] = _regret(sides[1], features[task_id], held[task_id], settings.k)
        used_new.update(id(r) for r in train_new)
        used_old.update(id(r) for r in train_old)
    return GateResult(
        k=settings.k,
        n_folds=n_folds,
        tolerance=settings.tolerance,
        candidate=candidate,
        serving=serving,
        skipped_folds=tuple(skipped),
        candidate_records=len(used_new),
        serving_records=len(used_old),
    )
