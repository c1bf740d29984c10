"""Writing a knowledge base's files from a store: records, meta-features, bundles, provenance.

Everything is written to a hidden folder inside the target and renamed into
place at the end, ``provenance.json`` last, so an interrupted build never
leaves a half-written file, and provenance never names a file not in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warmstart.benchmarks.kb._layout import (
    KB_FEATURES,
    KB_MODELS,
    KB_PROVENANCE,
    KB_RECORDS,
    file_sha256,
)
from warmstart.benchmarks.kb._provenance import utc_now, write_json
from warmstart.benchmarks.runner import resolve_learner
from warmstart.metamodel.bundle import TrainSettings, train_bundle
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.probes import probe_version
from warmstart.metamodel.spaces import make_search_space
from warmstart.metamodel.store import (
    RecordFilter,
    RecordStore,
    export_records,
    export_task_features,
)
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import RecordStatus, SearchSpace

if TYPE_CHECKING:
    from warmstart.benchmarks.kb._build import BuildObserver
    from warmstart.benchmarks.kb._plan import KbPlan

__all__ = ["SpaceBuilt", "SpaceCounts", "Written", "held_spaces", "write_outputs"]

_STAGE_PREFIX = ".kb-build-"


@dataclass(frozen=True)
class SpaceCounts:
    """What the database holds of one space of the plan."""

    space: SearchSpace
    task_ids: frozenset[str]
    records: int
    by_status: dict[str, int]


@dataclass(frozen=True)
class SpaceBuilt:
    """One space in the written knowledge base.

    ``bundle_file`` (relative to the folder), ``bundle_version`` and ``training``
    are None when no bundle could be trained; ``no_model`` then says why.
    """

    name: str
    counts: SpaceCounts
    bundle_file: str | None = None
    bundle_version: str | None = None
    training: dict[str, Any] | None = None
    no_model: str | None = None

    def entry(self) -> dict[str, Any]:
        """The space's entry in provenance.json."""
        bundle = None
        if self.bundle_file is not None:
            bundle = {
                "file": self.bundle_file,
                "version": self.bundle_version,
                "training": self.training,
            }
        return {
            "space_id": self.counts.space.space_id,
            "tasks": len(self.counts.task_ids),
            "records": self.counts.records,
            **self.counts.by_status,
            "bundle": bundle,
        }


@dataclass(frozen=True)
class Written:
    """What :func:`write_outputs` wrote: counts, spaces, and the provenance as written."""

    records: int
    features: int
    spaces: dict[str, SpaceBuilt]
    provenance: dict[str, Any]


def held_spaces(store: RecordStore, learners: list[str]) -> dict[str, SpaceCounts]:
    """The spaces of ``learners`` that have records in the store, with their counts."""
    held: dict[str, SpaceCounts] = {}
    for name in learners:
        learner = resolve_learner(name)
        space = make_search_space(learner.name, learner.search_space())
        keys = store.record_keys(RecordFilter(space_id=space.space_id))
        if not keys:
            continue
        by_status = {
            status.value: store.count_records(RecordFilter(space_id=space.space_id, status=status))
            for status in RecordStatus
        }
        held[name] = SpaceCounts(space, frozenset(k[0] for k in keys), len(keys), by_status)
    return held


def _train(
    store: RecordStore,
    stage: Path,
    name: str,
    counts: SpaceCounts,
    settings: TrainSettings,
    observer: BuildObserver,
) -> SpaceBuilt:
    observer.busy(f"training {name}...")
    try:
        bundle = train_bundle(store, name, FEATURE_VERSION, settings)
    except FailedPreconditionError as exc:
        return SpaceBuilt(name, counts, no_model=str(exc))
    relative = f"{KB_MODELS}/{name}.wsb"
    bundle.save(stage / relative)
    return SpaceBuilt(name, counts, relative, bundle.version, bundle.training)


def write_outputs(
    store: RecordStore,
    target: Path,
    held: dict[str, SpaceCounts],
    params: SurrogateParams,
    provenance: dict[str, Any],
    observer: BuildObserver,
    plan: KbPlan | None = None,
) -> Written:
    """Export, train and describe into a hidden folder of ``target``, then rename into place.

    Args:
        store: Where the records and meta-features are.
        target: The knowledge-base folder; created if absent (and removed again
            if the build fails and leaves it empty).
        held: The spaces to export and train, by name.
        params: Surrogate settings of the bundles.
        provenance: What the build records so far; completed with the finish
            time, the spaces and the files' hashes.
        observer: Told of each stage.
        plan: The plan: its probed spaces' models read probes, and their probe scores
            go into the features file beside the meta-features.

    Raises:
        KeyboardInterrupt: Interrupted; nothing in ``target`` was changed.
    """
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=target))
    try:
        space_ids = tuple(c.space.space_id for c in held.values())
        task_ids = set[str]().union(*(c.task_ids for c in held.values()))
        observer.busy("exporting records...")
        n_records = export_records(store, stage / KB_RECORDS, RecordFilter(space_ids=space_ids))
        probed = [name for name in held if plan is not None and plan.probes_read(name)]
        n_features = export_task_features(
            store,
            stage / KB_FEATURES,
            [FEATURE_VERSION, *(probe_version(name) for name in probed)],
            task_ids=task_ids,
        )
        observer.exported(n_records, len(held), n_features)
        spaces: dict[str, SpaceBuilt] = {}
        for name, counts in held.items():
            reads = plan.probes_read(name) if plan is not None else 0
            if reads and not store.list_task_features(probe_version(name)):
                observer.warning(
                    f"{name}: no probe scores are stored (a shard measures none), so its "
                    "model is trained without probes; the build that gathers the shards "
                    "measures them"
                )
                reads = 0
            settings = TrainSettings(surrogate=params, probes=reads)
            spaces[name] = built = _train(store, stage, name, counts, settings, observer)
            if built.no_model is not None:
                observer.warning(f"no model of {name}: {built.no_model}")
            else:
                observer.trained(built)
        relatives = [KB_RECORDS, KB_FEATURES]
        relatives += [s.bundle_file for s in spaces.values() if s.bundle_file is not None]
        files = {
            rel: {"sha256": file_sha256(stage / rel), "bytes": (stage / rel).stat().st_size}
            for rel in relatives
        }
        entries = {name: built.entry() for name, built in spaces.items()}
        written = provenance | {"finished_at": utc_now(), "spaces": entries, "files": files}
        write_json(stage / KB_PROVENANCE, written)
        # Each rename is atomic; provenance.json goes last.
        for rel in [*relatives, KB_PROVENANCE]:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, target / rel)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(target.iterdir()):
            target.rmdir()  # a build that failed leaves no trace
    return Written(n_records, n_features, spaces, written)
