"""The training data of a refresh: one consistent snapshot, and the part an older model saw.

A model trained by a refresh stores the largest record id it was trained on
(record ids only grow), so the exact set can be rebuilt later: every record
of the space with an id up to the cut-off. A version registered without one
(``warmstart train``) falls back to the records created before the model, and
the rebuilt set is checked against the data hash the bundle recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from warmstart.metamodel.bundle import ModelBundle, TrainSettings, train_from_records
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.spaces import load_configspace
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.surrogate import Normalisation, build_training_table
from warmstart.metamodel.types import EvaluationRecord, SearchSpace, TaskFeatures

__all__ = ["TrainingSnapshot", "served_records", "take_snapshot", "training_hash"]


@dataclass(frozen=True)
class TrainingSnapshot:
    """Every record of a space at one moment, with what training needs.

    Attributes:
        space: The newest version of the space.
        records: All its records, every source (benchmark, client, import).
        features: Meta-features by task id.
        task_names: Names by task id.
        families: Family (else name) by task id.
        max_record_id: The largest record id in ``records`` (0 when empty).
    """

    space: SearchSpace
    records: list[EvaluationRecord]
    features: dict[str, TaskFeatures]
    task_names: dict[str, str]
    families: dict[str, str]
    max_record_id: int

    def by_source(self) -> dict[str, int]:
        """How many records came from each source."""
        counts = Counter(r.source.value for r in self.records)
        return {source: counts[source] for source in sorted(counts)}

    def train(self, feature_version: str, settings: TrainSettings) -> ModelBundle:
        """Train a bundle on every record of the snapshot (what ``train_bundle`` does).

        Raises:
            FailedPreconditionError: No records, or none with meta-features.
        """
        if not self.records:
            raise FailedPreconditionError(f"no records of space {self.space.name!r} to train on")
        return train_from_records(
            self.space,
            self.records,
            self.features,
            self.task_names,
            feature_version,
            settings,
            families=self.families,
        )


def take_snapshot(store: RecordStore, space_name: str, feature_version: str) -> TrainingSnapshot:
    """Read the newest version of a space, all its records, features and task names.

    Raises:
        NotFoundError: No space of that name.
    """
    space = store.find_space(space_name)
    records = store.get_records(RecordFilter(space_id=space.space_id))
    tasks = store.list_tasks()
    return TrainingSnapshot(
        space=space,
        records=records,
        features=store.list_task_features(feature_version),
        task_names={t.task_id: t.name for t in tasks},
        families={t.task_id: t.family or t.name for t in tasks},
        max_record_id=max((r.record_id or 0 for r in records), default=0),
    )


def served_records(
    snapshot: TrainingSnapshot,
    *,
    max_record_id: int | None = None,
    created_before: datetime | None = None,
) -> list[EvaluationRecord]:
    """The snapshot's records an earlier model was trained on.

    Args:
        snapshot: The current records.
        max_record_id: The cut-off the model stored (exact).
        created_before: Otherwise: the model's creation time (records created up to then).
    """
    if max_record_id is not None:
        return [r for r in snapshot.records if (r.record_id or 0) <= max_record_id]
    if created_before is None:
        raise FailedPreconditionError("give a record id cut-off or a creation time")
    return [
        r for r in snapshot.records if r.created_at is not None and r.created_at <= created_before
    ]


def training_hash(
    snapshot: TrainingSnapshot,
    records: list[EvaluationRecord],
    normalisation: Normalisation,
) -> str | None:
    """The data hash a bundle trained on ``records`` records (``None``: nothing trainable)."""
    encoder = ConfigEncoder(load_configspace(snapshot.space))
    try:
        table = build_training_table(
            records, snapshot.features, encoder, normalisation=normalisation
        )
    except FailedPreconditionError:
        return None
    return table.data_hash
