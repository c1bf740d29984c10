"""The feature set: its version, its names in order, and the one function that computes it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.features import (
    _general,
    _info_theory,
    _landmarkers,
    _missing,
    _statistical,
    _target,
)
from warmstart.metamodel.features._arrays import TaskArrays, prepare
from warmstart.metamodel.types import TaskType

__all__ = ["DEFAULT_ROW_CAP", "FEATURE_NAMES", "FEATURE_VERSION", "compute_meta_features"]

FEATURE_VERSION = "mf-1"
"""Version of the feature set: bump it whenever a name, the order or a computation changes."""

DEFAULT_ROW_CAP = 5000
"""Statistics read a seeded sample of at most this many rows (part of the version)."""

MIN_ROW_CAP = 50

_GROUPS: tuple[tuple[tuple[str, ...], Callable[[TaskArrays], dict[str, float]]], ...] = (
    (_general.NAMES, _general.compute),
    (_missing.NAMES, _missing.compute),
    (_target.NAMES, _target.compute),
    (_statistical.NAMES, _statistical.compute),
    (_info_theory.NAMES, _info_theory.compute),
    (_landmarkers.NAMES, _landmarkers.compute),
)

FEATURE_NAMES: tuple[str, ...] = tuple(name for names, _ in _GROUPS for name in names)
"""Every meta-feature, in the fixed order of the feature set."""


@cache
def _threadpools() -> ThreadpoolController:
    # Inspecting the loaded BLAS/OpenMP libraries takes milliseconds: do it once.
    return ThreadpoolController()


def compute_meta_features(
    X: Any,
    y: Any,
    task_type: TaskType | str,
    *,
    seed: int = 0,
    row_cap: int = DEFAULT_ROW_CAP,
) -> dict[str, float]:
    """Describe a task by its meta-features.

    Counts and missing values read the whole table; statistics read a seeded
    sample of at most ``row_cap`` rows (stratified by class) and 500 columns;
    landmarkers at most 2,000 rows and 100 columns, each time-boxed. Runs on one
    thread (BLAS and OpenMP pools are limited to 1 while it runs, process-wide)
    and with numpy and scikit-learn warnings silenced.

    Args:
        X: Features: a pandas DataFrame (numeric, boolean, object, string or
            category columns; NaN and inf allowed) or a 2-D numpy array.
        y: Target, one value per row: class labels, or numbers for regression.
            Rows with a missing target are left out of what depends on it.
        task_type: ``"binary"``, ``"multiclass"`` or ``"regression"`` (or the
            :class:`~warmstart.metamodel.types.TaskType`).
        seed: Seed of every sample and of the landmarkers' folds.
        row_cap: Most rows the statistics read; at least 50.

    Returns:
        ``{name: value}`` with exactly :data:`FEATURE_NAMES` in order; every
        value a finite float, or NaN where the feature is undefined for this task.

    Raises:
        InvalidRequestError: If ``X`` is not a non-empty 2-D table, ``y`` does
            not have one value per row, ``task_type`` is unknown, a regression
            target is not numeric, or ``seed``/``row_cap`` is out of range.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidRequestError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(row_cap, bool) or not isinstance(row_cap, (int, np.integer)):
        raise InvalidRequestError(f"row_cap must be an integer >= {MIN_ROW_CAP}, got {row_cap!r}")
    if row_cap < MIN_ROW_CAP:
        raise InvalidRequestError(f"row_cap must be an integer >= {MIN_ROW_CAP}, got {row_cap}")
    values: dict[str, float] = {}
    with (
        _threadpools().limit(limits=1),
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("ignore")
        data = prepare(X, y, task_type, seed=int(seed), row_cap=int(row_cap))
        for names, group in _GROUPS:
            computed = group(data)
            if set(computed) != set(names):
                raise RuntimeError(f"feature group returned {sorted(computed)}, not {names}")
            values.update(computed)
    return {name: _clean(values[name]) for name in FEATURE_NAMES}


def _clean(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.nan
