"""k-nearest neighbours.

``n_neighbors`` is clipped to the number of training rows at fit time, so a
config drawn for large tasks still runs on a small one (it then averages over
every row). ``p`` is the Minkowski power: 1 (Manhattan) or 2 (Euclidean, the
default). ``leaf_size`` and ``algorithm`` change speed, not predictions, and
are left at the library defaults.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from ConfigSpace import Categorical, ConfigurationSpace, Integer
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.utils.validation import check_is_fitted

from warmstart.benchmarks.learners._base import ALL_TASK_TYPES, Learner, as_int, as_str
from warmstart.benchmarks.learners._pipeline import make_pipeline
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = ["KNearestNeighbors"]


class _ClippedNeighbors(BaseEstimator):  # type: ignore[misc]
    """Build the scikit-learn model at fit time with ``n_neighbors <= n_rows``."""

    _model: ClassVar[type[Any]]

    def __init__(
        self, n_neighbors: int = 5, weights: str = "uniform", p: int = 2, n_jobs: int = 1
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.p = p
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any) -> _ClippedNeighbors:
        """Fit the neighbours model on ``X, y``."""
        self.model_ = self._model(
            n_neighbors=max(1, min(self.n_neighbors, len(X))),
            weights=self.weights,
            p=self.p,
            n_jobs=self.n_jobs,
        ).fit(X, y)
        return self

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """Predict with the fitted neighbours model."""
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(X))


class NeighborsClassifier(ClassifierMixin, _ClippedNeighbors):  # type: ignore[misc]
    """k-NN classifier with clipped ``n_neighbors``."""

    _model: ClassVar[type[Any]] = KNeighborsClassifier

    def fit(self, X: Any, y: Any) -> NeighborsClassifier:
        """Fit, and expose the classes seen."""
        super().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        """Return class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict_proba(X), dtype=np.float64)


class NeighborsRegressor(RegressorMixin, _ClippedNeighbors):  # type: ignore[misc]
    """k-NN regressor with clipped ``n_neighbors``."""

    _model: ClassVar[type[Any]] = KNeighborsRegressor


class KNearestNeighbors(Learner):
    """scikit-learn's k-NN; defaults are scikit-learn's (5 neighbours, uniform, p=2)."""

    name: ClassVar[str] = "knn"
    task_types: ClassVar[frozenset[TaskType]] = ALL_TASK_TYPES

    def search_space(self) -> ConfigurationSpace:
        """Build the k-NN space."""
        space = ConfigurationSpace(name=self.name)
        space.add(
            [
                Integer("n_neighbors", (1, 100), log=True, default=5),
                Categorical("weights", ["uniform", "distance"], default="uniform"),
                Integer("p", (1, 2), default=2),
            ]
        )
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        model = NeighborsRegressor if task_type is TaskType.REGRESSION else NeighborsClassifier
        estimator = model(
            n_neighbors=as_int(config, "n_neighbors"),
            weights=as_str(config, "weights"),
            p=as_int(config, "p"),
            n_jobs=n_threads,
        )
        return make_pipeline("scaled", estimator, n_threads)
