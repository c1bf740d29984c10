"""The surrogate: learns which configs do well on which kinds of task."""

from __future__ import annotations

from warmstart.metamodel.surrogate._compiled import CompiledSurrogate, CompiledTrees
from warmstart.metamodel.surrogate._model import FIT_TIME_QUANTILE, Surrogate, SurrogateParams
from warmstart.metamodel.surrogate._size import SIZE_INPUT, SIZE_SOURCE, log_rows, size_source
from warmstart.metamodel.surrogate._table import (
    Normalisation,
    TrainingTable,
    build_training_table,
    left_out_tasks,
    normalise_scores,
)

__all__ = [
    "FIT_TIME_QUANTILE",
    "SIZE_INPUT",
    "SIZE_SOURCE",
    "CompiledSurrogate",
    "CompiledTrees",
    "Normalisation",
    "Surrogate",
    "SurrogateParams",
    "TrainingTable",
    "build_training_table",
    "left_out_tasks",
    "log_rows",
    "normalise_scores",
    "size_source",
]
