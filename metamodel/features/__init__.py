"""Task meta-features: a fixed, ordered, versioned list computed from ``(X, y, task type)``.

Groups, in order: general (sizes, column kinds), missing values, target (class
balance or target shape), statistical (skewness, kurtosis, outliers,
correlation, PCA), information theory (entropy, mutual information) and
landmarkers (cross-validated scores of fast models). Cost is bounded by
sampling rows and columns and by time-boxing the landmarkers: about a second on
one core for any table. A feature that is undefined for a task is NaN, never
infinite, and odd data (constant columns, one class, NaN or inf, a few rows,
more columns than rows) never raise.

``describe_task`` and ``ensure_task_features`` store them per task and
:data:`FEATURE_VERSION`, so changing the feature set only means computing the
new version from the data. Other feature sets (OpenML qualities, say) are
imported, not computed; their names are fixed per version (``require_names``)
and a task's values can be read from a file (``read_feature_values``).
"""

from __future__ import annotations

from warmstart.metamodel.features._compute import (
    DEFAULT_ROW_CAP,
    FEATURE_NAMES,
    FEATURE_VERSION,
    compute_meta_features,
)
from warmstart.metamodel.features._given import (
    check_given,
    name_difference,
    read_feature_values,
    require_names,
)
from warmstart.metamodel.features._task import TaskFeatureStore, describe_task, ensure_task_features

__all__ = [
    "DEFAULT_ROW_CAP",
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "TaskFeatureStore",
    "check_given",
    "compute_meta_features",
    "describe_task",
    "ensure_task_features",
    "name_difference",
    "read_feature_values",
    "require_names",
]
