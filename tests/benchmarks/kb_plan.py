"""A tiny knowledge-base plan shared by the kb tests: two steps on three scikit-learn tasks.

Three tasks per space, since a bundle's task index needs at least three.
"""

from __future__ import annotations

SUITE = "sklearn:iris,wine,breast_cancer"
PLAN = """\
suite = "sklearn"
feature_version = "mf-1"

[[steps]]
learners = ["knn", "logistic_regression"]
configs = 2
folds = 2

[[steps]]
learners = ["knn"]
configs = 3
tasks = 2
folds = 2
"""
