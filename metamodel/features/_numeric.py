"""Column-wise numeric helpers that tolerate NaN, constant and empty columns.

Callers run these under ``np.errstate(all="ignore")``: undefined results come
out as NaN and are never raised.
"""

from __future__ import annotations

import numpy as np

from warmstart.metamodel.features._arrays import BoolArray, FloatArray, IntArray

__all__ = [
    "constant_columns",
    "entropy",
    "finite_or_nan",
    "moments",
    "nan_summary",
    "occupied",
    "sorted_quantiles",
    "standardize",
]

_MIN_RELATIVE_VARIANCE = 1e-20
"""Variance of a column scaled to max |x| = 1 below which it counts as constant."""


def finite_or_nan(value: float) -> float:
    """``value`` as a float, NaN when it is not finite."""
    value = float(value)
    return value if np.isfinite(value) else float("nan")


def nan_summary(values: FloatArray) -> tuple[float, float, float]:
    """``(mean, median, max)`` of the finite values; NaN for each when there are none."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan"), float("nan")
    return float(np.mean(finite)), float(np.median(finite)), float(np.max(finite))


def moments(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per column skewness and excess kurtosis (biased, as pymfe and scipy's default).

    Columns are scaled to max ``|x| = 1`` first so that the fourth powers of huge
    values do not overflow. Columns with fewer than 3 values or (near) zero
    variance get NaN.

    Args:
        values: ``(rows, columns)`` with NaN for missing.

    Returns:
        ``(skewness, kurtosis)``, one value per column.
    """
    count = np.sum(~np.isnan(values), axis=0)
    scale = np.nanmax(np.abs(values), axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    x = values / scale
    centered = x - np.nanmean(x, axis=0)
    squared = centered * centered
    m2 = np.nanmean(squared, axis=0)
    m3 = np.nanmean(squared * centered, axis=0)
    m4 = np.nanmean(squared * squared, axis=0)
    defined = (count >= 3) & (m2 > _MIN_RELATIVE_VARIANCE)
    m2 = np.where(defined, m2, np.nan)
    return m3 / m2**1.5, m4 / (m2 * m2) - 3.0


def sorted_quantiles(ordered: FloatArray, counts: IntArray, qs: FloatArray) -> FloatArray:
    """Linearly interpolated quantiles of each column of a column-sorted array.

    Args:
        ordered: ``np.sort(values, axis=0)``: NaN last in each column.
        counts: Non-NaN values per column.
        qs: Quantile levels in ``[0, 1]``.

    Returns:
        ``(len(qs), columns)``; NaN for columns without values.
    """
    if ordered.shape[0] == 0:
        return np.full((len(qs), ordered.shape[1]), np.nan)
    last = np.maximum(counts - 1, 0).astype(np.float64)
    position = qs[:, None] * last[None, :]
    low = np.floor(position).astype(np.intp)
    high = np.ceil(position).astype(np.intp)
    frac = position - low
    lo_values = np.take_along_axis(ordered, low, axis=0)
    hi_values = np.take_along_axis(ordered, high, axis=0)
    out: FloatArray = lo_values + frac * (hi_values - lo_values)
    out[:, counts == 0] = np.nan
    return out


def standardize(values: FloatArray) -> FloatArray:
    """Columns scaled to mean 0 and standard deviation 1; missing values become 0 (the mean).

    Columns without variance become all 0.
    """
    scale = np.nanmax(np.abs(values), axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    x = values / scale
    centered = x - np.nanmean(x, axis=0)
    std = np.sqrt(np.nanmean(centered * centered, axis=0))
    ok = np.isfinite(std) & (std > np.sqrt(_MIN_RELATIVE_VARIANCE))
    z = np.where(ok, centered / np.where(ok, std, 1.0), 0.0)
    out: FloatArray = np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def entropy(counts: FloatArray | IntArray, axis: int = -1) -> FloatArray:
    """Plug-in Shannon entropy in nats of count vectors along ``axis`` (0 for empty ones)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=axis, keepdims=True)
    p = counts / np.where(total > 0, total, 1.0)
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    out: FloatArray = terms.sum(axis=axis)
    return out


def occupied(counts: IntArray, axis: int = -1) -> IntArray:
    """How many cells of count vectors along ``axis`` are non-zero."""
    out: IntArray = np.count_nonzero(counts, axis=axis).astype(np.intp)
    return out


def constant_columns(ordered: FloatArray, counts: IntArray) -> BoolArray:
    """Per column of a column-sorted array: no values, or all values equal."""
    if ordered.shape[0] == 0:
        return np.ones(ordered.shape[1], dtype=np.bool_)
    first = ordered[0]
    last = np.take_along_axis(ordered, np.maximum(counts - 1, 0)[None, :], axis=0)[0]
    out: BoolArray = (counts == 0) | (first == last)
    return out
