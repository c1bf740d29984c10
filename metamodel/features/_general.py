"""General features: the size and shape of the table, and its kinds of columns."""

from __future__ import annotations

import math

import numpy as np

from warmstart.metamodel.features._arrays import TaskArrays

__all__ = ["NAMES", "compute"]

NAMES = (
    "log_n_rows",
    "log_n_features",
    "feature_row_ratio",
    "n_classes",
    "categorical_share",
    "numeric_share",
)


def compute(data: TaskArrays) -> dict[str, float]:
    """Sizes (natural logs), features per row, classes (NaN for regression), column kinds."""
    categorical = float(np.mean(data.categorical))
    return {
        "log_n_rows": math.log(data.n_rows),
        "log_n_features": math.log(data.n_columns),
        "feature_row_ratio": data.n_columns / data.n_rows,
        "n_classes": float(data.n_classes) if data.is_classification else math.nan,
        "categorical_share": categorical,
        "numeric_share": 1.0 - categorical,
    }
