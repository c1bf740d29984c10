"""Support vector machines: ``SVC`` for classification, ``SVR`` for regression.

Space notes:

- ``gamma_mode`` is ``"scale"`` (the library default, ``1 / (n_features *
  X.var())``) or ``"value"``, in which case ``gamma`` (log scale) is active.
  Both are active only for the rbf, poly and sigmoid kernels.
- ``degree`` is active for poly; ``coef0`` for poly and sigmoid.
- ``epsilon`` is SVR's tube width. The target is standardised inside the
  estimator, so it is in units of the target's standard deviation. It is in
  the space for every task type (the space is task-agnostic) and is ignored
  for classification.

Probabilities: ``SVC(probability=True)`` is deprecated in scikit-learn 1.9 and
costs five extra fits. Instead the SVC is calibrated with Platt's sigmoid by
``CalibratedClassifierCV(ensemble=False)`` on up to 3 stratified folds (the
same method, fewer folds); predictions come from the SVC fitted on all rows,
so a binary ROC AUC is exactly the SVC's. When a class has a single row, no
fold split is possible and the probabilities are a softmax of the decision
function instead.

libsvm's iteration limit is fixed at 10**6 rather than unlimited (see
``_MAX_ITER``); the default config converges long before it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    InCondition,
    Integer,
)
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.utils.validation import check_is_fitted

from warmstart.benchmarks.learners._base import (
    ALL_TASK_TYPES,
    Learner,
    as_bool,
    as_float,
    as_int,
    as_str,
)
from warmstart.benchmarks.learners._pipeline import make_pipeline
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = ["SVM"]

_CALIBRATION_FOLDS = 3
# libsvm's iteration limit (the library default is none). A linear-kernel or
# large-C fit can otherwise run for minutes on 80 rows; 10**6 iterations is
# about a second there. A fit that hits it ends with a ConvergenceWarning.
_MAX_ITER = 1_000_000


class PlattSVC(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """An SVC with sigmoid-calibrated ``predict_proba`` (see the module doc).

    Args:
        estimator: The unfitted ``SVC``.
        folds: Most folds used for calibration.
        random_state: Seed of the fold shuffle.
    """

    def __init__(self, estimator: Any = None, folds: int = 3, random_state: int = 0) -> None:
        self.estimator = estimator
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> PlattSVC:
        """Fit the SVC and its calibration."""
        svc = clone(self.estimator if self.estimator is not None else SVC())
        _, counts = np.unique(np.asarray(y), return_counts=True)
        folds = min(self.folds, int(counts.min()))
        if folds >= 2:
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            self.model_ = CalibratedClassifierCV(svc, method="sigmoid", cv=cv, ensemble=False)
            self.calibrated_ = True
        else:
            self.model_ = svc
            self.calibrated_ = False
        self.model_.fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        """Return class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "model_")
        if self.calibrated_:
            return np.asarray(self.model_.predict_proba(X), dtype=np.float64)
        scores = np.asarray(self.model_.decision_function(X), dtype=np.float64)
        if scores.ndim == 1:
            scores = np.column_stack([-scores, scores]) / 2.0
        return np.asarray(softmax(scores, axis=1), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """Return the most probable class."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


class SVM(Learner):
    """scikit-learn's kernel SVM; defaults are scikit-learn's (rbf, C=1, gamma='scale')."""

    name: ClassVar[str] = "svm"
    task_types: ClassVar[frozenset[TaskType]] = ALL_TASK_TYPES

    def search_space(self) -> ConfigurationSpace:
        """Build the SVM space."""
        space = ConfigurationSpace(name=self.name)
        kernel = Categorical("kernel", ["rbf", "poly", "sigmoid", "linear"], default="rbf")
        gamma_mode = Categorical("gamma_mode", ["scale", "value"], default="scale")
        gamma = Float("gamma", (1e-4, 10.0), log=True, default=0.1)
        degree = Integer("degree", (2, 5), default=3)
        coef0 = Float("coef0", (-1.0, 1.0), default=0.0)
        space.add(
            [
                Float("C", (1e-3, 1e4), log=True, default=1.0),
                kernel,
                gamma_mode,
                gamma,
                degree,
                coef0,
                Float("epsilon", (1e-3, 1.0), log=True, default=0.1),
                Float("tol", (1e-5, 1e-1), log=True, default=1e-3),
                Categorical("shrinking", [True, False], default=True),
                InCondition(gamma_mode, kernel, ["rbf", "poly", "sigmoid"]),
                EqualsCondition(gamma, gamma_mode, "value"),
                EqualsCondition(degree, kernel, "poly"),
                InCondition(coef0, kernel, ["poly", "sigmoid"]),
            ]
        )
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        kernel = as_str(config, "kernel")
        params: dict[str, Any] = {
            "C": as_float(config, "C"),
            "kernel": kernel,
            "tol": as_float(config, "tol"),
            "shrinking": as_bool(config, "shrinking"),
            "max_iter": _MAX_ITER,
        }
        if kernel != "linear":
            value = as_str(config, "gamma_mode") == "value"
            params["gamma"] = as_float(config, "gamma") if value else "scale"
        if kernel == "poly":
            params["degree"] = as_int(config, "degree")
        if kernel in ("poly", "sigmoid"):
            params["coef0"] = as_float(config, "coef0")
        model: Any
        if task_type is TaskType.REGRESSION:
            model = TransformedTargetRegressor(
                regressor=SVR(epsilon=as_float(config, "epsilon"), **params),
                transformer=StandardScaler(),
            )
        else:
            model = PlattSVC(SVC(**params), folds=_CALIBRATION_FOLDS, random_state=seed)
        return make_pipeline("scaled", model, n_threads)
