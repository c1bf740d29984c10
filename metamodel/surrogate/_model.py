"""The surrogate: a bagged LightGBM ensemble over tasks, and a fit-time model.

Each ensemble member is trained on a bootstrap sample of *tasks* (not rows),
so the spread of their predictions says how much the answer depends on which
tasks were seen: the uncertainty of a suggestion for a new task. A separate
LightGBM model predicts ``log1p(fit seconds)`` for cost-aware suggestions, with
its error margin on tasks it has not seen (:attr:`Surrogate.fit_time_margin`).
Training is deterministic for a given seed and thread count.

A member is boosted in two stages that end up as one booster. The first
(``config_rounds`` trees) sees only the config: it learns how good a config is
on tasks in general, the ranking every task shares. The second stage sees the
task's meta-features and the config and fits what is left: how the ranking
changes from task to task. Boosted in one stage, most of the trees' gain goes
to the config's main effect (a config far from the good region is bad
everywhere) and the predicted rankings of good configs hardly differ between
tasks; fitting the shared part first leaves the task-dependent part to trees
with room for interactions (``num_leaves``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import lightgbm as lgb
import numpy as np

from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.surrogate._compiled import MAX_LEAVES, CompiledSurrogate
from warmstart.metamodel.surrogate._size import SIZE_INPUT
from warmstart.metamodel.surrogate._table import TrainingTable

__all__ = ["FIT_TIME_QUANTILE", "Surrogate", "SurrogateParams"]

FIT_TIME_QUANTILE = 0.9
"""The share of held-out slow fits that the fit-time margin covers."""
_MARGIN_FROM_SECONDS = 1.0
"""The margin is measured on fits of at least this long: where a limit bites."""
_MARGIN_FOLDS = 3
_SLOWER_WITH = (SIZE_INPUT, "n_classes")
"""Inputs the fit time does not decrease with (training rows, classes)."""
_MAX_MARGIN = 20.0


@dataclass(frozen=True)
class SurrogateParams:
    """Training settings of the surrogate."""

    n_models: int = 5
    n_estimators: int = 150
    """Trees of the stage over every input (the second, when ``config_rounds`` > 0)."""
    learning_rate: float = 0.1
    num_leaves: int = 63
    min_child_samples: int = 20
    feature_fraction: float = 0.9
    n_threads: int = 1
    seed: int = 0
    config_rounds: int = 80
    """Trees of the first, config-only stage (0: one stage over every input)."""

    def check(self) -> None:
        """Raise :class:`InvalidRequestError` for values out of range."""
        if self.n_models < 1 or self.n_estimators < 1 or self.n_threads < 1:
            raise InvalidRequestError(
                "n_models, n_estimators and n_threads must be >= 1, got "
                f"{self.n_models}, {self.n_estimators}, {self.n_threads}"
            )
        if self.config_rounds < 0:
            raise InvalidRequestError(f"config_rounds must be >= 0, got {self.config_rounds}")
        if not 0.0 < self.feature_fraction <= 1.0:
            raise InvalidRequestError(
                f"feature_fraction must be in (0, 1], got {self.feature_fraction}"
            )
        if self.min_child_samples < 1:
            raise InvalidRequestError(
                f"min_child_samples must be >= 1, got {self.min_child_samples}"
            )
        if not 2 <= self.num_leaves <= MAX_LEAVES:
            raise InvalidRequestError(
                f"num_leaves must be in [2, {MAX_LEAVES}] (the serving predictor holds a "
                f"tree's leaves in one 64-bit mask), got {self.num_leaves}"
            )
        if not 0.0 < self.learning_rate <= 1.0:
            raise InvalidRequestError(f"learning_rate must be in (0, 1], got {self.learning_rate}")

    def lightgbm(self, seed: int) -> dict[str, Any]:
        """LightGBM parameters for one model."""
        return {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "num_threads": self.n_threads,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }


class Surrogate:
    """Predicts a config's normalised score on a task, its spread, and its fit time."""

    def __init__(
        self,
        members: list[lgb.Booster],
        fit_time: lgb.Booster | None,
        feature_names: tuple[str, ...],
        params: SurrogateParams,
        fit_time_margin: float = 1.0,
    ) -> None:
        self.members = members
        self.fit_time = fit_time
        self.feature_names = feature_names
        self.params = params
        self.fit_time_margin = fit_time_margin
        """How many times its prediction a fit may take: the :data:`FIT_TIME_QUANTILE`
        quantile of measured over predicted fit time on tasks held out of the fit-time
        model (fits of 1 s or more; 1.0 when too few were measured). A config is kept
        under a time limit only if its predicted time times this margin fits."""

    @classmethod
    def fit(
        cls, table: TrainingTable, params: SurrogateParams | None = None, *, fit_time: bool = True
    ) -> Surrogate:
        """Train the ensemble and the fit-time model on a training table.

        Args:
            table: The training table.
            params: Training settings.
            fit_time: Train the fit-time model and its margin (False: predictions of fit
                time are NaN; for models that never answer a time limit).
        """
        params = params or SurrogateParams()
        params.check()
        tasks = np.unique(table.groups)
        if len(tasks) < 2:
            raise FailedPreconditionError(
                f"the surrogate needs records on at least 2 tasks, got {len(tasks)}"
            )
        rows_of = {task: np.flatnonzero(table.groups == task) for task in tasks}
        members = []
        for i in range(params.n_models):
            rng = np.random.default_rng(params.seed * 1000 + i)
            sample = tasks if params.n_models == 1 else rng.choice(tasks, size=len(tasks))
            rows = np.concatenate([rows_of[t] for t in sample])
            members.append(_train_member(table, rows, params, params.seed * 1000 + i))
        known = np.flatnonzero(np.isfinite(table.log_fit_seconds))
        timer, margin = None, 1.0
        if fit_time and len(known) >= 10:
            timing = replace(params, n_estimators=max(1, params.n_estimators * 2 // 3))
            timer = _train(table, known, table.log_fit_seconds, timing, params.seed)
            margin = _fit_time_margin(table, known, timing)
        return cls(members, timer, table.feature_names, params, margin)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over the ensemble of the normalised score."""
        matrix = self._check(X)
        outputs = np.vstack(
            [m.predict(matrix, num_threads=self.params.n_threads) for m in self.members]
        )
        return outputs.mean(axis=0), outputs.std(axis=0)

    def predict_fit_seconds(self, X: np.ndarray) -> np.ndarray:
        """Predicted fit seconds (NaN when no fit times were recorded)."""
        matrix = self._check(X)
        if self.fit_time is None:
            return np.full(len(matrix), np.nan)
        predicted = np.asarray(self.fit_time.predict(matrix, num_threads=self.params.n_threads))
        return np.asarray(np.expm1(np.clip(predicted, 0.0, 20.0)), dtype=float)

    def compile(self, n_task_features: int) -> CompiledSurrogate:
        """The ensemble and fit-time model as leaf masks, for fast serving (same outputs).

        Args:
            n_task_features: How many leading inputs are the task's meta-features.
        """
        return CompiledSurrogate(self.members, self.fit_time, n_task_features)

    def _check(self, X: np.ndarray) -> np.ndarray:
        matrix = np.atleast_2d(np.asarray(X, dtype=float))
        if matrix.shape[1] != len(self.feature_names):
            raise InvalidRequestError(
                f"expected {len(self.feature_names)} columns, got {matrix.shape[1]}"
            )
        return matrix

    def to_dict(self) -> dict[str, Any]:
        """The models as text, for a bundle."""
        return {
            "members": [m.model_to_string() for m in self.members],
            "fit_time": None if self.fit_time is None else self.fit_time.model_to_string(),
            "feature_names": list(self.feature_names),
            "params": self.params.__dict__,
            "fit_time_margin": self.fit_time_margin,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Surrogate:
        """Inverse of :meth:`to_dict`."""
        return cls(
            [lgb.Booster(model_str=text) for text in data["members"]],
            None if data["fit_time"] is None else lgb.Booster(model_str=data["fit_time"]),
            tuple(data["feature_names"]),
            # Bundles from before the two-stage surrogate had one stage.
            SurrogateParams(**({"config_rounds": 0} | data["params"])),
            # Bundles from before the margin took predictions as they were.
            float(data.get("fit_time_margin", 1.0)),
        )


_CONFIG_STAGE = {"learning_rate": 0.1, "num_leaves": 15}
"""The config-only stage's settings: a smooth main effect, not a fine fit."""


def _train_member(
    table: TrainingTable, rows: np.ndarray, params: SurrogateParams, seed: int
) -> lgb.Booster:
    """One ensemble member: the config-only stage (if any), then the stage over every input."""
    init = None
    if params.config_rounds > 0:
        # Meta-features all missing: no tree of this stage can split on them.
        blind = table.X[rows].copy()
        blind[:, : table.n_meta] = np.nan
        init = _boost(
            table, blind, table.y[rows], params.lightgbm(seed) | _CONFIG_STAGE, params.config_rounds
        )
    return _boost(
        table, table.X[rows], table.y[rows], params.lightgbm(seed), params.n_estimators, init
    )


def _train(
    table: TrainingTable, rows: np.ndarray, target: np.ndarray, params: SurrogateParams, seed: int
) -> lgb.Booster:
    # Fits take no less time on more rows or more classes: constrained so, the trees keep
    # a task larger than those it was trained on at least as slow as the largest.
    slower = {"monotone_constraints": [int(n in _SLOWER_WITH) for n in table.feature_names]}
    return _boost(
        table, table.X[rows], target[rows], params.lightgbm(seed) | slower, params.n_estimators
    )


def _boost(
    table: TrainingTable,
    X: np.ndarray,
    y: np.ndarray,
    settings: dict[str, Any],
    rounds: int,
    init: lgb.Booster | None = None,
) -> lgb.Booster:
    dataset = lgb.Dataset(
        X,
        label=y,
        feature_name=[_safe(n) for n in table.feature_names],
        categorical_feature=list(table.categorical),
        free_raw_data=True,
        params={"verbosity": -1},
    )
    return lgb.train(settings, dataset, num_boost_round=rounds, init_model=init)


def _fit_time_margin(table: TrainingTable, known: np.ndarray, params: SurrogateParams) -> float:
    """The fit-time model's margin (:attr:`Surrogate.fit_time_margin`), measured on
    :data:`_MARGIN_FOLDS` folds of the tasks: trees cannot extrapolate, so a task
    slower than any seen (more rows, classes or rounds) is predicted too fast."""
    tasks = np.unique(table.groups[known])
    if len(tasks) < 2 * _MARGIN_FOLDS:
        return 1.0
    order = np.random.default_rng(params.seed).permutation(len(tasks))
    folds_of = (np.arange(len(tasks)) % _MARGIN_FOLDS).tolist()
    fold_of = dict(zip(tasks[order].tolist(), folds_of, strict=True))
    folds = np.array([fold_of[task] for task in table.groups[known].tolist()])
    ratios = []
    for fold in range(_MARGIN_FOLDS):
        inside, outside = known[folds == fold], known[folds != fold]
        booster = _train(table, outside, table.log_fit_seconds, params, params.seed)
        predicted = np.expm1(
            np.clip(booster.predict(table.X[inside], num_threads=params.n_threads), 0.0, 20.0)
        )
        measured = np.expm1(table.log_fit_seconds[inside])
        slow = measured >= _MARGIN_FROM_SECONDS
        ratios.append(measured[slow] / np.maximum(predicted[slow], 1e-3))
    found = np.concatenate(ratios)
    if len(found) < 20:
        return 1.0
    return float(np.clip(np.quantile(found, FIT_TIME_QUANTILE), 1.0, _MAX_MARGIN))


def _safe(name: str) -> str:
    """LightGBM refuses some characters in feature names."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)
