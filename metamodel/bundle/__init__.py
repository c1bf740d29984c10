"""Model bundles: train, save, load and check."""

from __future__ import annotations

from warmstart.metamodel.bundle._bundle import (
    BUNDLE_FORMAT,
    ModelBundle,
    library_versions,
    load_bundle,
)
from warmstart.metamodel.bundle._train import (
    TrainedBundle,
    TrainSettings,
    train_bundle,
    train_from_records,
    train_space,
)

__all__ = [
    "BUNDLE_FORMAT",
    "ModelBundle",
    "TrainSettings",
    "TrainedBundle",
    "library_versions",
    "load_bundle",
    "train_bundle",
    "train_from_records",
    "train_space",
]
