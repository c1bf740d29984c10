"""Which tasks take part in an evaluation, their families, and a spread-out subset.

A task takes part when it has meta-features (not all missing) and at least two
distinct successful scores, the training's rules; the others are named with the
reason (:attr:`EvaluationData.left_out`). Its family is the stored family, else
its name. Pool, live and seeding evaluations share these rules, so they split and
choose tasks alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from warmstart.metamodel.bundle import ModelBundle, TrainSettings, train_from_records
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.probes import probe_request, probe_scores_of, probe_version
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.surrogate import left_out_tasks
from warmstart.metamodel.types import (
    EvaluationRecord,
    RecordStatus,
    SearchSpace,
    Task,
    TaskFeatures,
)

__all__ = [
    "EvaluationData",
    "family_folds",
    "load_evaluation_data",
    "spread_over_families",
    "task_families",
    "usable_records",
]


def usable_records(
    records: Iterable[EvaluationRecord], with_features: Iterable[str]
) -> dict[str, list[EvaluationRecord]]:
    """Records by task, for tasks with meta-features and two distinct successful scores.

    ``with_features`` gives the task ids with usable meta-features; given the
    features themselves (a mapping to :class:`TaskFeatures`), tasks whose
    features are all missing are left out too.
    """
    if isinstance(with_features, Mapping):
        described = {t for t, f in with_features.items() if not f.all_missing}
    else:
        described = set(with_features)
    by_task: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for record in records:
        if record.task_id in described:
            by_task[record.task_id].append(record)
    return {
        task_id: rs
        for task_id, rs in by_task.items()
        if len({r.score for r in rs if r.status is RecordStatus.OK}) >= 2
    }


def task_families(task_ids: Iterable[str], tasks: Mapping[str, Task]) -> dict[str, str]:
    """Family of each task (its name when it has none)."""
    return {t: tasks[t].family or tasks[t].name for t in task_ids}


def spread_over_families(
    candidates: Sequence[str], families: Mapping[str, str], max_tasks: int | None, seed: int
) -> list[str]:
    """Every candidate, or ``max_tasks`` of them spread over families (one per family, round-robin).

    Families are visited in a seeded random order, each family's tasks in a
    seeded random order too, so the choice is deterministic, covers as many
    families as it can and does not favour names early in the alphabet.
    """
    if max_tasks is None or max_tasks >= len(candidates):
        return sorted(candidates)
    by_family: dict[str, list[str]] = defaultdict(list)
    for task_id in sorted(candidates):
        by_family[families[task_id]].append(task_id)
    rng = np.random.default_rng(seed)
    names = sorted(by_family)
    queues = [
        [str(t) for t in rng.permutation(by_family[names[i]])] for i in rng.permutation(len(names))
    ]
    order = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
    return sorted(order[:max_tasks])


def family_folds(families: Mapping[str, str], n_folds: int, seed: int) -> dict[str, int]:
    """Assign each task a fold so that no family is split (families shuffled by ``seed``)."""
    names = sorted(set(families.values()))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of_family = {names[i]: position % n_folds for position, i in enumerate(order)}
    return {task: fold_of_family[family] for task, family in families.items()}


@dataclass(frozen=True)
class EvaluationData:
    """A space's records, split into leave-family-out folds.

    Attributes:
        space: The search space.
        features: Meta-features of every described task (of the feature version).
        n_records: How many records the space has in all.
        usable: Records by task, for tasks that take part (see :func:`usable_records`).
        families: Each taking-part task's family.
        names: Each taking-part task's name.
        fold_of: Each taking-part task's fold.
        left_out: ``{task_id: reason}`` for the tasks with records that take no part.
        left_out_names: Each left-out task's name.
        probe_scores: Each task's probe scores by config hash (empty: the bundles read no
            probes; see :mod:`warmstart.metamodel.probes`).
    """

    space: SearchSpace
    features: dict[str, TaskFeatures]
    n_records: int
    usable: dict[str, list[EvaluationRecord]]
    families: dict[str, str]
    names: dict[str, str]
    fold_of: dict[str, int]
    left_out: dict[str, str] = field(default_factory=dict)
    left_out_names: dict[str, str] = field(default_factory=dict)
    probe_scores: dict[str, dict[str, float]] = field(default_factory=dict)

    def request(self, task_id: str) -> dict[str, float]:
        """A task's meta-features as a request carries them: with its probe scores."""
        return self.features[task_id].as_dict() | probe_request(self.probe_scores.get(task_id, {}))

    def training_records(self, fold: int) -> list[EvaluationRecord]:
        """Records of every taking-part task outside ``fold``."""
        return [r for t, f in self.fold_of.items() if f != fold for r in self.usable[t]]

    def train(
        self, records: list[EvaluationRecord], feature_version: str, settings: TrainSettings
    ) -> ModelBundle:
        """A bundle trained on ``records`` (a fold's training records), its set rules chosen
        on inner family folds of them."""
        return train_from_records(
            self.space,
            records,
            self.features,
            self.names,
            feature_version,
            settings,
            families=self.families,
            probe_scores=self.probe_scores or None,
        )


def load_evaluation_data(
    store: RecordStore,
    space_name: str,
    feature_version: str,
    n_folds: int,
    seed: int,
    *,
    probes: bool = False,
) -> EvaluationData:
    """Read a space's records and meta-features and split its tasks into family folds.

    ``probes``: also read the tasks' stored probe scores (bundles that read probes).

    Raises:
        NotFoundError: No space of that name.
        FailedPreconditionError: Fewer families take part than there are folds, or
            ``probes`` and none are stored.
    """
    space = store.find_space(space_name)
    records = store.get_records(RecordFilter(space_id=space.space_id))
    features: dict[str, TaskFeatures] = store.list_task_features(feature_version)
    tasks = {t.task_id: t for t in store.list_tasks()}
    usable = usable_records(records, features)
    left_out = left_out_tasks(records, features, feature_version)
    families = task_families(usable, tasks)
    if len(set(families.values())) < n_folds:
        raise FailedPreconditionError(
            f"space {space_name!r} has records with meta-features on "
            f"{len(set(families.values()))} families; the evaluation needs at least "
            f"{n_folds} (one per fold)"
        )
    probe_scores: dict[str, dict[str, float]] = {}
    if probes:
        probe_scores = probe_scores_of(store.list_task_features(probe_version(space_name)))
        if not probe_scores:
            raise FailedPreconditionError(
                f"no probe scores of space {space_name!r} are stored (feature set "
                f"{probe_version(space_name)!r}); measure them with `warmstart kb build` or "
                "import them with `warmstart features import`"
            )
    return EvaluationData(
        space=space,
        features=features,
        n_records=len(records),
        usable=usable,
        families=families,
        names={t: tasks[t].name for t in usable},
        fold_of=family_folds(families, n_folds, seed),
        left_out=left_out,
        left_out_names={t: tasks[t].name if t in tasks else t for t in left_out},
        probe_scores=probe_scores,
    )
