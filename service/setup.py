"""Set up a data directory from the shipped knowledge base (what ``warmstart quickstart`` does).

On a store without records this imports the shipped records (one
transaction), then the meta-features of stored tasks that lack them (all or
nothing), then registers the shipped model bundles, copied into the data
directory's ``models/`` so it is self-contained, serving each where its space
serves nothing yet. Every step is idempotent: a second run imports and
registers nothing, and a run after an interrupted one finishes what is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from warmstart.benchmarks.kb import KnowledgeBase, file_sha256
from warmstart.metamodel.bundle import ModelBundle, load_bundle
from warmstart.metamodel.errors import FailedPreconditionError, WarmstartError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import (
    FeaturesImportReport,
    ImportReport,
    ModelAction,
    ModelLedger,
    RecordStore,
    import_records,
    import_task_features,
)
from warmstart.metamodel.types import ModelVersion

__all__ = ["BundleRegistration", "SetupReport", "register_bundles", "set_up_knowledge_base"]


@dataclass(frozen=True)
class BundleRegistration:
    """What registering one shipped bundle did.

    Attributes:
        space: The bundle's space.
        version: The bundle's version.
        registered: Whether the version was new to the store.
        serving: The version serving the space now.
    """

    space: str
    version: str
    registered: bool
    serving: str


@dataclass(frozen=True)
class SetupReport:
    """What setting up from a knowledge base did.

    Attributes:
        kb_root: The knowledge base's folder.
        records: The records import (``None``: the store had records, nothing imported).
        features: The meta-features import.
        models: The bundles registered or made to serve (unchanged ones are not listed).
        skipped: Shipped bundles that do not load with this code, with the reason.
    """

    kb_root: Path
    records: ImportReport | None
    features: FeaturesImportReport
    models: list[BundleRegistration] = field(default_factory=list)
    skipped: dict[Path, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether anything was imported, registered or made to serve."""
        return self.records is not None or bool(self.features.new) or bool(self.models)


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _import_records(store: RecordStore, kb: KnowledgeBase) -> ImportReport:
    report = import_records(store, kb.records)
    if not report.stored:
        first = report.invalid[0]
        raise FailedPreconditionError(
            f"{kb.records} has {len(report.invalid)} invalid rows (row {first.row}: "
            f"{first.reason}); nothing was imported"
        )
    return report


def _import_features(store: RecordStore, kb: KnowledgeBase) -> FeaturesImportReport:
    report = import_task_features(store, kb.features, skip_unknown_tasks=True)
    if not report.stored:
        first = report.invalid[0]
        raise FailedPreconditionError(
            f"{kb.features} has {len(report.invalid)} invalid rows (row {first.row}: "
            f"{first.reason}); no meta-features were imported"
        )
    return report


def _register(
    store: RecordStore,
    ledger: ModelLedger,
    source: Path,
    bundle: ModelBundle,
    models_dir: Path,
    by: str,
) -> BundleRegistration | None:
    """Copy one loaded bundle in and register it; ``None``: nothing changed."""
    space = bundle.space.name
    target = models_dir / f"{bundle.version}.wsb"
    digest = file_sha256(source)
    if not target.is_file() or file_sha256(target) != digest:
        _copy_atomically(source, target)
    versions = {v.version: v for v in store.list_model_versions(space)}
    serving = next((v.version for v in versions.values() if v.serving), None)
    detail = {"by": by, "from": str(source)}
    if bundle.version not in versions:
        model = ModelVersion(
            bundle.version, space, str(target.resolve()), digest, bundle.created_at, bundle.metrics
        )
        if serving is None:
            ledger.publish(model, expected_serving=None, detail=detail)
            return BundleRegistration(space, bundle.version, True, bundle.version)
        store.add_model_version(model)
        return BundleRegistration(space, bundle.version, True, serving)
    if serving is None:
        ledger.switch_serving(bundle.version, action=ModelAction.PROMOTE, detail=detail)
        return BundleRegistration(space, bundle.version, False, bundle.version)
    return None


def register_bundles(
    store: RecordStore,
    bundles: Sequence[Path],
    models_dir: Path,
    *,
    by: str = "warmstart quickstart",
) -> tuple[list[BundleRegistration], dict[Path, str]]:
    """Copy bundles into ``models_dir``, register each version, and serve it if nothing serves.

    A space that already has a serving version keeps it; a bundle that does not
    load with this code (say, another LightGBM major version) is skipped.

    Args:
        store: Where the versions are registered.
        bundles: The bundle files.
        models_dir: Where they are copied (as ``VERSION.wsb``).
        by: Who registers them, stored with the model events.

    Returns:
        The registrations that changed something, and the skipped bundles with the reason.
    """
    ledger = ModelLedger(store)
    changed: list[BundleRegistration] = []
    skipped: dict[Path, str] = {}
    for source in bundles:
        try:
            bundle = load_bundle(source, feature_version=FEATURE_VERSION)
        except WarmstartError as exc:
            skipped[source] = str(exc)
            continue
        done = _register(store, ledger, source, bundle, models_dir, by)
        if done is not None:
            changed.append(done)
    return changed, skipped


def set_up_knowledge_base(
    store: RecordStore,
    kb: KnowledgeBase,
    models_dir: Path,
    *,
    on_first_import: Callable[[KnowledgeBase], None] | None = None,
) -> SetupReport:
    """Import the shipped records and meta-features if missing; register the shipped models.

    Records are imported only into a store without records (the first start),
    in one transaction; meta-features are then added for stored tasks that
    lack them, so a run interrupted between the two is completed by the next.

    Args:
        store: The store to set up.
        kb: The knowledge base (:meth:`KnowledgeBase.locate`).
        models_dir: Where the shipped bundles are copied.
        on_first_import: Called before the records are imported (first start only).

    Raises:
        FailedPreconditionError: A shipped file has invalid rows (nothing of it imported).
    """
    records = None
    if not store.count_records():
        if on_first_import is not None:
            on_first_import(kb)
        records = _import_records(store, kb)
    features = _import_features(store, kb)
    models, skipped = register_bundles(store, kb.bundles, models_dir)
    return SetupReport(kb.root, records, features, models, skipped)
