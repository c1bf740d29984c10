"""The surrogate: learns which configs do well on which kinds of task."""

from __future__ import annotations

from metamodel.surrogate._compiled import CompiledSurrogate, CompiledTrees
from metamodel.surrogate._model import Surrogate, SurrogateParams
from metamodel.surrogate._table import (
    Normalisation,
    TrainingTable,
    build_training_table,
    left_out_tasks,
    normalise_scores,
)

__all__ = [
    "CompiledSurrogate",
    "CompiledTrees",
    "Normalisation",
    "Surrogate",
    "SurrogateParams",
    "TrainingTable",
    "build_training_table",
    "left_out_tasks",
    "normalise_scores",
]
