"""Logistic regression (classification only).

The space keeps the classic ``penalty`` choice (l2, l1, elasticnet, none)
because that is how people think about it; it is translated to what
scikit-learn 1.8+ accepts without deprecation warnings: ``l1_ratio`` 0 (l2),
1 (l1) or in between (elasticnet), and ``C=inf`` for no penalty (releases
before 1.8 get ``penalty`` itself). Forbidden clauses keep every sampled
config legal: l1 only with liblinear or saga, elasticnet only with saga, no
penalty never with liblinear. ``C`` is active only when there is a penalty.
liblinear, which has no multinomial mode, is wrapped one-vs-rest (what it
always did for multiclass problems).
"""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    ForbiddenInClause,
    InCondition,
    Integer,
)
from sklearn.linear_model import LogisticRegression as _SkLogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from warmstart.benchmarks.learners._base import (
    CLASSIFICATION,
    Learner,
    as_bool,
    as_float,
    as_int,
    as_str,
)
from warmstart.benchmarks.learners._pipeline import make_pipeline
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = ["LogisticRegression"]

_SOLVERS = ["lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"]
_L1_RATIO = {"l2": 0.0, "l1": 1.0, "none": 0.0}
# scikit-learn 1.8 deprecated `penalty` (its default became "deprecated"); the
# older releases the project still allows need it spelled out.
_NEEDS_PENALTY = inspect.signature(_SkLogisticRegression).parameters["penalty"].default != (
    "deprecated"
)


class LogisticRegression(Learner):
    """scikit-learn's logistic regression; defaults are scikit-learn's (l2, C=1, lbfgs)."""

    name: ClassVar[str] = "logistic_regression"
    task_types: ClassVar[frozenset[TaskType]] = CLASSIFICATION

    def search_space(self) -> ConfigurationSpace:
        """Build the logistic regression space."""
        space = ConfigurationSpace(name=self.name)
        penalty = Categorical("penalty", ["l2", "l1", "elasticnet", "none"], default="l2")
        c = Float("C", (1e-4, 1e4), log=True, default=1.0)
        l1_ratio = Float("l1_ratio", (0.05, 0.95), default=0.5)
        solver = Categorical("solver", _SOLVERS, default="lbfgs")
        space.add(
            [
                penalty,
                c,
                l1_ratio,
                solver,
                Integer("max_iter", (50, 1000), log=True, default=100),
                Float("tol", (1e-6, 1e-2), log=True, default=1e-4),
                Categorical("class_weight", ["none", "balanced"], default="none"),
                Categorical("fit_intercept", [True, False], default=True),
                InCondition(c, penalty, ["l2", "l1", "elasticnet"]),
                EqualsCondition(l1_ratio, penalty, "elasticnet"),
                ForbiddenAndConjunction(
                    ForbiddenEqualsClause(penalty, "l1"),
                    ForbiddenInClause(solver, ["lbfgs", "newton-cg", "newton-cholesky", "sag"]),
                ),
                ForbiddenAndConjunction(
                    ForbiddenEqualsClause(penalty, "elasticnet"),
                    ForbiddenInClause(solver, [s for s in _SOLVERS if s != "saga"]),
                ),
                ForbiddenAndConjunction(
                    ForbiddenEqualsClause(penalty, "none"),
                    ForbiddenEqualsClause(solver, "liblinear"),
                ),
            ]
        )
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        solver = as_str(config, "solver")
        class_weight = as_str(config, "class_weight")
        model: Any = _SkLogisticRegression(
            **_penalty_params(config),
            solver=solver,
            max_iter=as_int(config, "max_iter"),
            tol=as_float(config, "tol"),
            class_weight=None if class_weight == "none" else class_weight,
            fit_intercept=as_bool(config, "fit_intercept"),
            random_state=seed,
        )
        if solver == "liblinear":
            model = OneVsRestClassifier(model)
        return make_pipeline("scaled", model, n_threads)


def _penalty_params(config: dict[str, ConfigValue]) -> dict[str, Any]:
    """Translate the space's ``penalty``, ``C`` and ``l1_ratio`` to the installed API."""
    penalty = as_str(config, "penalty")
    c = as_float(config, "C") if penalty != "none" else None
    l1_ratio = as_float(config, "l1_ratio") if penalty == "elasticnet" else None
    if _NEEDS_PENALTY:  # scikit-learn < 1.8
        return {
            "penalty": None if penalty == "none" else penalty,
            "C": 1.0 if c is None else c,
            "l1_ratio": l1_ratio,
        }
    return {
        "C": math.inf if c is None else c,
        "l1_ratio": l1_ratio if l1_ratio is not None else _L1_RATIO[penalty],
    }
