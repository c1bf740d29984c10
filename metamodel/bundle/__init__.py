"""Model bundles: train, save, load and check."""

from __future__ import annotations

from warmstart.metamodel.bundle._bundle import (
    BUNDLE_FORMAT,
    ModelBundle,
    library_versions,
    load_bundle,
)
from warmstart.metamodel.bundle._leaf_choice import LEAF_ROWS, LeafChoice, choose_leaf_rows
from warmstart.metamodel.bundle._train import (
    TrainedBundle,
    TrainSettings,
    train_bundle,
    train_from_records,
    train_space,
)
from warmstart.metamodel.bundle._validate import InnerFolds, inner_folds

__all__ = [
    "BUNDLE_FORMAT",
    "LEAF_ROWS",
    "InnerFolds",
    "LeafChoice",
    "ModelBundle",
    "TrainSettings",
    "TrainedBundle",
    "choose_leaf_rows",
    "inner_folds",
    "library_versions",
    "load_bundle",
    "train_bundle",
    "train_from_records",
    "train_space",
]
