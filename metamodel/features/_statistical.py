"""Statistical features of the sampled feature columns.

Shape (skewness, kurtosis, outliers, few distinct values) is measured on numeric
columns; constancy, correlation and PCA on every sampled column, categorical
ones as their integer codes. Pairwise statistics read a seeded subset of the
columns so that their cost does not grow with the square of the width.
"""

from __future__ import annotations

import math

import numpy as np

from warmstart.metamodel.features._arrays import FloatArray, TaskArrays, group_rng
from warmstart.metamodel.features._numeric import (
    constant_columns,
    moments,
    nan_summary,
    sorted_quantiles,
    standardize,
)

__all__ = ["NAMES", "compute"]

NAMES = (
    "abs_skewness_mean",
    "abs_skewness_median",
    "abs_skewness_max",
    "kurtosis_mean",
    "kurtosis_median",
    "kurtosis_max",
    "outlier_column_share",
    "low_cardinality_share",
    "constant_column_share",
    "mean_abs_correlation",
    "max_abs_correlation",
    "pca_first_component_share",
    "pca_components_95",
    "pca_components_95_ratio",
)

CORRELATION_COLUMNS = 50
"""Correlation reads at most this many columns (1,225 pairs)."""
PCA_COLUMNS = 200
"""PCA reads at most this many columns."""
OUTLIER_IQRS = 3.0
"""A value beyond this many IQRs outside the quartiles is an outlier (Tukey's "far out")."""
LOW_CARDINALITY = 10
"""A numeric column with at most this many distinct values counts as low-cardinality."""

_QUARTILES = np.array([0.25, 0.75])


def compute(data: TaskArrays) -> dict[str, float]:
    """Column shape summaries, constant columns, correlation and PCA of the sample.

    Returns:
        Each of :data:`NAMES`; NaN where no column qualifies (e.g. no numeric
        column, fewer than 3 rows, fewer than 2 non-constant columns).
    """
    out = dict.fromkeys(NAMES, math.nan)
    values = data.values
    ordered = np.sort(values, axis=0)
    counts = np.sum(~np.isnan(values), axis=0)
    constant = constant_columns(ordered, counts)
    out["constant_column_share"] = float(np.mean(constant))

    numeric = ~data.sample_categorical
    if numeric.any():
        out.update(_shape(values[:, numeric], ordered[:, numeric], counts[numeric]))

    rng = group_rng(data.seed, "statistical")
    varying = np.flatnonzero(~constant)
    if values.shape[0] >= 3 and len(varying) >= 2:
        out.update(_correlation(values[:, _subset(varying, CORRELATION_COLUMNS, rng)]))
    if values.shape[0] >= 2 and len(varying) >= 1:
        out.update(_pca(values[:, _subset(varying, PCA_COLUMNS, rng)]))
    return out


def _subset(columns: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    if len(columns) <= cap:
        return columns
    return np.sort(rng.choice(columns, cap, replace=False))


def _shape(values: FloatArray, ordered: FloatArray, counts: np.ndarray) -> dict[str, float]:
    skewness, kurtosis = moments(values)
    skew_mean, skew_median, skew_max = nan_summary(np.abs(skewness))
    kurt_mean, kurt_median, kurt_max = nan_summary(kurtosis)
    q1, q3 = sorted_quantiles(ordered, counts, _QUARTILES)
    iqr = q3 - q1
    spread = np.isfinite(iqr) & (iqr > 0)
    outlier_share = math.nan
    if spread.any():
        low = (q1 - OUTLIER_IQRS * iqr)[spread]
        high = (q3 + OUTLIER_IQRS * iqr)[spread]
        column_min = ordered[0, spread]
        column_max = np.take_along_axis(ordered, (counts - 1)[None, :], axis=0)[0, spread]
        outlier_share = float(np.mean((column_min < low) | (column_max > high)))
    present = counts > 0
    low_cardinality = math.nan
    if present.any():
        steps = np.diff(ordered[:, present], axis=0) > 0  # NaN compares False
        distinct = 1 + steps.sum(axis=0)
        low_cardinality = float(np.mean(distinct <= LOW_CARDINALITY))
    return {
        "abs_skewness_mean": skew_mean,
        "abs_skewness_median": skew_median,
        "abs_skewness_max": skew_max,
        "kurtosis_mean": kurt_mean,
        "kurtosis_median": kurt_median,
        "kurtosis_max": kurt_max,
        "outlier_column_share": outlier_share,
        "low_cardinality_share": low_cardinality,
    }


def _correlation(values: FloatArray) -> dict[str, float]:
    z = standardize(values)
    gram = z.T @ z
    norms = np.sqrt(np.diag(gram))
    usable = norms > 0
    if usable.sum() < 2:
        return {}
    gram = gram[np.ix_(usable, usable)]
    norms = norms[usable]
    corr = np.abs(gram / np.outer(norms, norms))
    pairs = corr[np.triu_indices(len(norms), k=1)]
    pairs = np.clip(pairs[np.isfinite(pairs)], 0.0, 1.0)
    if not len(pairs):
        return {}
    return {"mean_abs_correlation": float(pairs.mean()), "max_abs_correlation": float(pairs.max())}


def _pca(values: FloatArray) -> dict[str, float]:
    z = standardize(values)
    eigenvalues = np.clip(np.linalg.eigvalsh(z.T @ z)[::-1], 0.0, None)
    total = float(eigenvalues.sum())
    if not math.isfinite(total) or total <= 0:
        return {}
    explained = np.cumsum(eigenvalues) / total
    n_95 = int(np.searchsorted(explained, 0.95 - 1e-9)) + 1
    n_95 = min(n_95, len(eigenvalues))
    return {
        "pca_first_component_share": float(eigenvalues[0] / total),
        "pca_components_95": float(n_95),
        "pca_components_95_ratio": n_95 / values.shape[1],
    }
