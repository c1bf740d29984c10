"""Learners: search spaces, library defaults and estimator factories.

Each learner has a name (its search space's name), the task types it supports,
a ConfigSpace search space whose default is the library's defaults, and
``make_estimator`` that turns a config into an unfitted scikit-learn pipeline
(preprocessing + model) for a task type and seed.

Example:
    >>> learner = get_learner("lightgbm")
    >>> estimator = learner.make_estimator(learner.default_config(), "binary", seed=0)
"""

from __future__ import annotations

import difflib

from warmstart.benchmarks.learners._base import Learner
from warmstart.benchmarks.learners._kernel import SVM
from warmstart.benchmarks.learners._linear import LogisticRegression
from warmstart.benchmarks.learners._mlp_space import MLP
from warmstart.benchmarks.learners._neighbors import KNearestNeighbors
from warmstart.benchmarks.learners._trees import (
    ExtraTrees,
    HistGradientBoosting,
    LightGBM,
    RandomForest,
)
from warmstart.metamodel.errors import NotFoundError

__all__ = ["Learner", "available_learners", "get_learner"]

_LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in (
        LightGBM(),
        RandomForest(),
        ExtraTrees(),
        HistGradientBoosting(),
        SVM(),
        LogisticRegression(),
        KNearestNeighbors(),
        MLP(),
    )
}


def available_learners() -> list[str]:
    """Return the names of every learner, sorted."""
    return sorted(_LEARNERS)


def get_learner(name: str) -> Learner:
    """Return the learner of that name.

    Args:
        name: A learner's (and its search space's) name, e.g. ``"random_forest"``.

    Returns:
        The learner (stateless; the same instance on every call).

    Raises:
        NotFoundError: If there is no learner of that name; the message lists them.
    """
    learner = _LEARNERS.get(name)
    if learner is None:
        close = difflib.get_close_matches(str(name), list(_LEARNERS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise NotFoundError(
            f"no learner named {name!r}{hint}; available: {', '.join(available_learners())}"
        )
    return learner
