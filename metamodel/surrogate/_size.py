"""The training size as an input of the surrogate.

A config's score depends on how many rows it is trained on: a 22,784-row task
scored on a 2,000-row sample is, to LightGBM's leaves and rounds, a small task.
Each record's fidelity is the fraction of its task's rows the evaluation used,
so ``log(rows used) = log_n_rows + log(fidelity)``, and the surrogate takes it
as one more task-side input, :data:`SIZE_INPUT`, after the meta-features. A
request states the rows it will train on; by default the whole table's.

The input exists where the feature set describes the table's size
(:data:`SIZE_SOURCE`, natural log of the rows, as ``mf-1`` does); a feature set
without it (OpenML qualities, say) trains a surrogate without the input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SIZE_INPUT", "SIZE_SOURCE", "log_rows", "size_source"]

SIZE_INPUT = "log_train_rows"
"""The surrogate's input: natural log of the rows a config is trained on."""
SIZE_SOURCE = "log_n_rows"
"""The meta-feature that gives the table's rows (natural log)."""


def size_source(names: Sequence[str]) -> int | None:
    """Where :data:`SIZE_SOURCE` is among a feature set's names (None: absent)."""
    return list(names).index(SIZE_SOURCE) if SIZE_SOURCE in names else None


def log_rows(log_n_rows: float, fidelity: float = 1.0, train_rows: int | None = None) -> float:
    """The :data:`SIZE_INPUT` value: ``log(train_rows)`` when given, else the table's rows
    times the fidelity (NaN when the table's rows are unknown)."""
    if train_rows is not None:
        return float(np.log(train_rows))
    return float(log_n_rows + np.log(fidelity))
