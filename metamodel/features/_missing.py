"""Missing values, counted over the whole table (infinite values are not missing)."""

from __future__ import annotations

import numpy as np

from warmstart.metamodel.features._arrays import TaskArrays

__all__ = ["NAMES", "compute"]

NAMES = (
    "missing_cell_share",
    "missing_row_share",
    "missing_column_share",
)


def compute(data: TaskArrays) -> dict[str, float]:
    """Shares of missing cells, of rows with any missing cell, of columns with any."""
    cells = data.n_rows * data.n_columns
    return {
        "missing_cell_share": float(data.missing_per_column.sum()) / cells,
        "missing_row_share": data.rows_with_missing / data.n_rows,
        "missing_column_share": float(np.mean(data.missing_per_column > 0)),
    }
