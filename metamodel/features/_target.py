"""Target features: class balance for classification, distribution shape for regression.

Read over the whole target (it is one column: cheap). The features of the other
kind of task are NaN.
"""

from __future__ import annotations

import math

import numpy as np

from warmstart.metamodel.features._arrays import FloatArray, TaskArrays
from warmstart.metamodel.features._numeric import entropy, finite_or_nan, moments, sorted_quantiles

__all__ = ["NAMES", "compute"]

CLASSIFICATION_NAMES = (
    "class_entropy",
    "minority_class_share",
    "majority_class_share",
    "minority_majority_ratio",
)
REGRESSION_NAMES = (
    "target_skewness",
    "target_kurtosis",
    "target_quartile_dispersion",
    "target_log_tail_ratio",
    "target_unique_share",
)
NAMES = CLASSIFICATION_NAMES + REGRESSION_NAMES

_QUANTILES = np.array([0.01, 0.25, 0.75, 0.99])


def compute(data: TaskArrays) -> dict[str, float]:
    """Class entropy and shares, or the target's skewness, spread, tails and distinct values.

    ``class_entropy`` is normalised by ``log(n_classes)`` (1 = balanced; NaN with
    one class). ``target_quartile_dispersion`` is ``(Q3 - Q1) / (|Q3| + |Q1|)``,
    a scale-free spread in ``[0, 1]``; ``target_log_tail_ratio`` is
    ``log1p((P99 - P1) / (Q3 - Q1))``, large for heavy tails.
    """
    out = dict.fromkeys(NAMES, math.nan)
    if not len(data.target):
        return out
    if data.is_classification:
        out.update(_classification(np.bincount(data.target)))
    else:
        out.update(_regression(np.asarray(data.target, dtype=np.float64)))
    return out


def _classification(counts: np.ndarray) -> dict[str, float]:
    counts = counts[counts > 0]
    total = float(counts.sum())
    n_classes = len(counts)
    return {
        "class_entropy": (
            float(entropy(counts)) / math.log(n_classes) if n_classes > 1 else math.nan
        ),
        "minority_class_share": float(counts.min()) / total,
        "majority_class_share": float(counts.max()) / total,
        "minority_majority_ratio": float(counts.min()) / float(counts.max()),
    }


def _regression(target: FloatArray) -> dict[str, float]:
    skewness, kurtosis = moments(target[:, None])
    ordered = np.sort(target)[:, None]
    p01, q1, q3, p99 = sorted_quantiles(ordered, np.array([len(target)]), _QUANTILES)[:, 0]
    spread = abs(q3) + abs(q1)
    iqr = q3 - q1
    return {
        "target_skewness": finite_or_nan(skewness[0]),
        "target_kurtosis": finite_or_nan(kurtosis[0]),
        "target_quartile_dispersion": finite_or_nan(iqr / spread) if spread > 0 else math.nan,
        "target_log_tail_ratio": finite_or_nan(math.log1p((p99 - p01) / iqr))
        if iqr > 0
        else math.nan,
        "target_unique_share": len(np.unique(target)) / len(target),
    }
