"""A learner whose config decides how it misbehaves, to test the runner's failure paths.

Used through the runner's import-path form: ``tests.benchmarks.faulty_learner:faulty``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from ConfigSpace import Categorical, ConfigurationSpace
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from warmstart.benchmarks.learners import Learner
from warmstart.metamodel.types import ConfigValue, TaskType


class _Misbehaving(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode

    def fit(self, X: Any, y: Any) -> _Misbehaving:
        if self.mode == "raise":
            raise ValueError("deliberate failure for the test")
        if self.mode == "sleep":
            time.sleep(120)
        if self.mode == "memory":
            hog = [np.ones(2**27) for _ in range(64)]  # 64 GiB: more than any limit
            del hog
        self.classes_ = np.unique(y)
        self.prior_ = np.bincount(np.searchsorted(self.classes_, y)) / len(y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.tile(self.prior_, (len(X), 1))


class FaultyLearner(Learner):
    """Fits a class-prior model, or raises, sleeps or exhausts memory, per its config."""

    __slots__ = ()
    name = "faulty"
    task_types = frozenset({TaskType.BINARY, TaskType.MULTICLASS})

    def search_space(self) -> ConfigurationSpace:
        space = ConfigurationSpace()
        space.add(Categorical("mode", ["ok", "raise", "sleep", "memory"], default="ok"))
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        return Pipeline([("model", _Misbehaving(str(config["mode"])))])


faulty = FaultyLearner()
