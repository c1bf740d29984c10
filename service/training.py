"""Train a space's bundle on every stored record, save it and register it (``warmstart train``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warmstart.metamodel.bundle import TrainedBundle, TrainSettings, train_space
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ModelVersion

__all__ = ["RegisteredBundle", "train_and_register"]


@dataclass(frozen=True)
class RegisteredBundle:
    """A trained bundle (with the tasks training left out) and its registered version."""

    trained: TrainedBundle
    version: ModelVersion


def train_and_register(
    store: RecordStore,
    space: str,
    feature_version: str,
    settings: TrainSettings,
    *,
    models_dir: Path,
    out: Path | None = None,
) -> RegisteredBundle:
    """Train on every record of a space, save the bundle and register it (not serving).

    Args:
        store: Records, meta-features and model versions.
        space: The search space.
        feature_version: The meta-feature version trained on.
        settings: How to train.
        models_dir: Where the bundle goes as ``VERSION.wsb`` unless ``out`` is given.
        out: The bundle's file.

    Raises:
        NotFoundError: No space of that name.
        FailedPreconditionError: No records, or no task with usable meta-features.
    """
    trained = train_space(store, space, feature_version, settings)
    bundle = trained.bundle
    path = out or models_dir / f"{bundle.version}.wsb"
    digest = bundle.save(path)
    version = ModelVersion(bundle.version, space, str(path.resolve()), digest, bundle.created_at)
    store.add_model_version(version)
    return RegisteredBundle(trained, version)
