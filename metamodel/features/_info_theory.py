"""Information-theoretic features of the discretised sample.

Numeric columns are cut into equal-frequency bins, categorical columns keep
their most frequent levels (the rest pooled), and a missing value is a bin of
its own. The target is the class, or for regression the target cut into
equal-frequency bins like a feature. Mutual information carries the
Miller-Madow bias correction: the plug-in estimate of a feature independent of
the target is about ``(bins - 1)(classes - 1) / 2n`` above zero, which on small
tasks is as large as real signal.
"""

from __future__ import annotations

import math

import numpy as np

from warmstart.metamodel.features._arrays import BoolArray, FloatArray, IntArray, TaskArrays
from warmstart.metamodel.features._numeric import entropy, occupied, sorted_quantiles

__all__ = ["NAMES", "compute"]

NAMES = (
    "feature_entropy_mean",
    "mutual_info_mean",
    "mutual_info_max",
    "equivalent_n_attributes",
    "noise_signal_ratio",
)

MAX_BINS = 10
"""Bins per numeric column (fewer on small samples: about the cube root of the rows)."""

_JOINT_CELLS = 4_000_000
"""Joint histograms are counted in chunks of columns of at most this many cells."""


def n_bins(n_rows: int) -> int:
    """Bins per column for a sample of ``n_rows``: the cube root, between 2 and :data:`MAX_BINS`."""
    return int(min(MAX_BINS, max(2, round(n_rows ** (1 / 3)))))


def compute(data: TaskArrays) -> dict[str, float]:
    """Mean feature entropy, mutual information with the target, ENA and noise-signal ratio.

    ``feature_entropy_mean`` is normalised per column by the log of its number of
    bins (1 = spread evenly over them); ``mutual_info_mean`` and
    ``mutual_info_max`` are normalised by the target's entropy. The equivalent
    number of attributes is ``H(target) / mean MI`` and the noise-signal ratio
    ``(mean H(feature) - mean MI) / mean MI`` (both in nats, NaN when no feature
    carries information about the target).
    """
    out = dict.fromkeys(NAMES, math.nan)
    target, valid = _target_codes(data)
    if target is None:
        return out
    values = data.values[valid]
    n_rows = values.shape[0]
    bins = n_bins(n_rows)
    codes, has_missing = _discretise(values, data.sample_categorical, bins)
    width = bins + 1  # the last bin holds missing values
    n_columns = codes.shape[1]
    feature_counts = _histograms(codes, width)
    feature_entropy = entropy(feature_counts)
    normaliser = np.log(bins + has_missing.astype(np.float64))
    out["feature_entropy_mean"] = float(np.mean(np.minimum(feature_entropy / normaliser, 1.0)))

    n_classes = int(target.max()) + 1
    target_counts = np.bincount(target, minlength=n_classes)
    target_entropy = float(entropy(target_counts))
    if target_entropy <= 0:
        return out
    joint_entropy = np.empty(n_columns)
    joint_occupied = np.empty(n_columns)
    chunk = max(1, _JOINT_CELLS // (width * n_classes))
    for start in range(0, n_columns, chunk):
        block = codes[:, start : start + chunk] * n_classes + target[:, None]
        counts = _histograms(block, width * n_classes)
        joint_entropy[start : start + chunk] = entropy(counts)
        joint_occupied[start : start + chunk] = occupied(counts)
    plug_in = feature_entropy + target_entropy - joint_entropy
    correction = (
        occupied(feature_counts) - 1 + np.count_nonzero(target_counts) - 1 - (joint_occupied - 1)
    ) / (2.0 * n_rows)
    mutual_info = np.maximum(plug_in + correction, 0.0)
    mean_mi = float(mutual_info.mean())
    out["mutual_info_mean"] = mean_mi / target_entropy
    out["mutual_info_max"] = float(mutual_info.max()) / target_entropy
    if mean_mi > 0:
        out["equivalent_n_attributes"] = target_entropy / mean_mi
        out["noise_signal_ratio"] = (float(feature_entropy.mean()) - mean_mi) / mean_mi
    return out


def _target_codes(data: TaskArrays) -> tuple[IntArray | None, np.ndarray]:
    """Target codes ``0..C-1`` of the sample rows with a target, and which rows those are."""
    target = data.sample_target
    if data.is_classification:
        valid = np.asarray(target) >= 0
        if not valid.any():
            return None, valid
        _, compact = np.unique(target[valid], return_inverse=True)
        return compact.astype(np.intp), valid
    values = np.asarray(target, dtype=np.float64)
    valid = np.isfinite(values)
    if not valid.any():
        return None, valid
    column = values[valid][:, None]
    codes, _ = _discretise(column, np.zeros(1, dtype=np.bool_), n_bins(int(valid.sum())))
    _, compact = np.unique(codes[:, 0], return_inverse=True)
    return compact.astype(np.intp), valid


def _histograms(codes: IntArray, width: int) -> IntArray:
    """Counts of each code ``0..width-1`` per column: ``(columns, width)``."""
    n_columns = codes.shape[1]
    offsets = codes + (np.arange(n_columns) * width)[None, :]
    counts = np.bincount(offsets.ravel(), minlength=n_columns * width)
    return counts.reshape(n_columns, width).astype(np.intp)


def _discretise(
    values: FloatArray, categorical: BoolArray, bins: int
) -> tuple[IntArray, BoolArray]:
    """Bin codes ``0..bins`` per cell (``bins`` = missing) and which columns have missing cells."""
    missing = np.isnan(values)
    codes = np.zeros(values.shape, dtype=np.intp)
    numeric = np.flatnonzero(~categorical)
    if len(numeric):
        block = values[:, numeric]
        ordered = np.sort(block, axis=0)
        counts = np.sum(~np.isnan(block), axis=0)
        levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
        edges = sorted_quantiles(ordered, counts, levels)
        # Repeated edges (ties) only skip codes; the entropy of the bins is unchanged.
        binned = np.zeros(block.shape, dtype=np.intp)
        for edge in edges:
            binned += block >= edge[None, :]
        codes[:, numeric] = binned
    for j in np.flatnonzero(categorical):
        codes[:, j] = _top_levels(values[:, j], bins)
    codes[missing] = bins
    has_missing = np.asarray(missing.any(axis=0), dtype=np.bool_)
    return codes, has_missing


def _top_levels(column: FloatArray, bins: int) -> IntArray:
    """Codes of a categorical column: its ``bins - 1`` most frequent levels, then the rest."""
    out = np.zeros(len(column), dtype=np.intp)
    present = ~np.isnan(column)
    if not present.any():
        return out
    levels, inverse, counts = np.unique(column[present], return_inverse=True, return_counts=True)
    if len(levels) > bins:
        rank = np.empty(len(levels), dtype=np.intp)
        rank[np.argsort(-counts, kind="stable")] = np.arange(len(levels))
        inverse = np.minimum(rank[inverse], bins - 1)
    out[present] = inverse
    return out
