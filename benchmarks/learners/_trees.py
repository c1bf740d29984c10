"""Tree ensembles: LightGBM, random forest, extra trees, histogram gradient boosting.

Conventions shared by these spaces:

- A depth limit whose library default is "none" is ``limit_depth`` (bool,
  default False) plus ``max_depth`` (active only when ``limit_depth`` is True).
- A penalty whose library default is 0 but whose useful values span decades is
  ``use_<name>`` (bool, default False) plus ``<name>`` on a log scale, active
  only when the flag is on; off means exactly 0.
- Forests: ``criterion`` (gini / entropy) applies to classification only;
  regression always uses squared error (the library default). ``entropy`` and
  ``log_loss`` are the same criterion in scikit-learn, so only one is offered.
  ``max_features="auto"`` is the library's per-task default (``"sqrt"`` for
  classification, all features for regression), as scikit-learn's own
  ``"auto"`` meant before 1.3.
- Categorical columns arrive ordinal-encoded and are split on as numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer
from ConfigSpace import GreaterThanCondition as GreaterThan
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from warmstart.benchmarks.learners._base import (
    ALL_TASK_TYPES,
    Learner,
    as_bool,
    as_float,
    as_int,
    as_str,
    optional_float,
)
from warmstart.benchmarks.learners._pipeline import make_pipeline
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = ["ExtraTrees", "HistGradientBoosting", "LightGBM", "RandomForest"]


def _depth_limit(space: ConfigurationSpace, upper: int, default: int) -> None:
    flag = Categorical("limit_depth", [False, True], default=False)
    depth = Integer("max_depth", (2, upper), log=True, default=default)
    space.add([flag, depth, EqualsCondition(depth, flag, True)])


def _optional_log(
    space: ConfigurationSpace, name: str, bounds: tuple[float, float], default: float
) -> None:
    flag = Categorical(f"use_{name}", [False, True], default=False)
    value = Float(name, bounds, log=True, default=default)
    space.add([flag, value, EqualsCondition(value, flag, True)])


def _max_depth_or(config: dict[str, ConfigValue], unlimited: Any) -> Any:
    return as_int(config, "max_depth") if as_bool(config, "limit_depth") else unlimited


class LightGBM(Learner):
    """LightGBM's gradient-boosted trees (``LGBMClassifier`` / ``LGBMRegressor``).

    ``subsample`` (bagging fraction) is active only when ``subsample_freq > 0``,
    because LightGBM ignores it otherwise. The objective follows the task type.
    """

    name: ClassVar[str] = "lightgbm"
    task_types: ClassVar[frozenset[TaskType]] = ALL_TASK_TYPES

    def search_space(self) -> ConfigurationSpace:
        """Build the LightGBM space; defaults are LightGBM 4's."""
        space = ConfigurationSpace(name=self.name)
        space.add(
            [
                Integer("n_estimators", (10, 2000), log=True, default=100),
                Float("learning_rate", (1e-3, 1.0), log=True, default=0.1),
                Integer("num_leaves", (4, 1024), log=True, default=31),
                Integer("min_child_samples", (1, 200), log=True, default=20),
                Float("colsample_bytree", (0.1, 1.0), default=1.0),
                Float("min_split_gain", (0.0, 1.0), default=0.0),
                Integer("max_bin", (16, 1023), log=True, default=255),
            ]
        )
        _depth_limit(space, upper=16, default=6)
        freq = Integer("subsample_freq", (0, 10), default=0)
        subsample = Float("subsample", (0.2, 1.0), default=1.0)
        space.add([freq, subsample, GreaterThan(subsample, freq, 0)])
        _optional_log(space, "reg_alpha", (1e-4, 10.0), default=0.01)
        _optional_log(space, "reg_lambda", (1e-4, 100.0), default=0.01)
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        freq = as_int(config, "subsample_freq")
        params: dict[str, Any] = {
            "n_estimators": as_int(config, "n_estimators"),
            "learning_rate": as_float(config, "learning_rate"),
            "num_leaves": as_int(config, "num_leaves"),
            "max_depth": _max_depth_or(config, -1),
            "min_child_samples": as_int(config, "min_child_samples"),
            "subsample": as_float(config, "subsample") if freq > 0 else 1.0,
            "subsample_freq": freq,
            "colsample_bytree": as_float(config, "colsample_bytree"),
            "min_split_gain": as_float(config, "min_split_gain"),
            "reg_alpha": optional_float(config, "use_reg_alpha", "reg_alpha"),
            "reg_lambda": optional_float(config, "use_reg_lambda", "reg_lambda"),
            "max_bin": as_int(config, "max_bin"),
            "random_state": seed,
            "n_jobs": n_threads,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }
        model = LGBMRegressor if task_type is TaskType.REGRESSION else LGBMClassifier
        return make_pipeline("native_missing", model(**params), n_threads)


class _Forest(Learner):
    """Shared space and builder of random forest and extra trees."""

    task_types: ClassVar[frozenset[TaskType]] = ALL_TASK_TYPES
    _bootstrap_default: ClassVar[bool]
    _classifier: ClassVar[type[Any]]
    _regressor: ClassVar[type[Any]]

    def search_space(self) -> ConfigurationSpace:
        """Build the forest space; defaults are scikit-learn's."""
        space = ConfigurationSpace(name=self.name)
        space.add(
            [
                Integer("n_estimators", (10, 1000), log=True, default=100),
                Categorical("criterion", ["gini", "entropy"], default="gini"),
                Integer("min_samples_split", (2, 64), log=True, default=2),
                Integer("min_samples_leaf", (1, 64), log=True, default=1),
            ]
        )
        mode = Categorical("max_features", ["auto", "sqrt", "log2", "fraction"], default="auto")
        fraction = Float("max_features_fraction", (0.05, 1.0), default=1.0)
        space.add([mode, fraction, EqualsCondition(fraction, mode, "fraction")])
        _depth_limit(space, upper=64, default=16)
        bootstrap = Categorical("bootstrap", [False, True], default=self._bootstrap_default)
        max_samples = Float("max_samples", (0.1, 1.0), default=1.0)
        space.add([bootstrap, max_samples, EqualsCondition(max_samples, bootstrap, True)])
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        regression = task_type is TaskType.REGRESSION
        mode = as_str(config, "max_features")
        max_features: Any
        if mode == "auto":
            max_features = 1.0 if regression else "sqrt"
        elif mode == "fraction":
            max_features = as_float(config, "max_features_fraction")
        else:
            max_features = mode
        bootstrap = as_bool(config, "bootstrap")
        max_samples = as_float(config, "max_samples") if bootstrap else None
        params: dict[str, Any] = {
            "n_estimators": as_int(config, "n_estimators"),
            "criterion": "squared_error" if regression else as_str(config, "criterion"),
            "max_depth": _max_depth_or(config, None),
            "min_samples_split": as_int(config, "min_samples_split"),
            "min_samples_leaf": as_int(config, "min_samples_leaf"),
            "max_features": max_features,
            "bootstrap": bootstrap,
            "max_samples": None if max_samples == 1.0 else max_samples,
            "random_state": seed,
            "n_jobs": n_threads,
        }
        model = self._regressor if regression else self._classifier
        return make_pipeline("imputed", model(**params), n_threads)


class RandomForest(_Forest):
    """scikit-learn's random forest."""

    name: ClassVar[str] = "random_forest"
    _bootstrap_default: ClassVar[bool] = True
    _classifier: ClassVar[type[Any]] = RandomForestClassifier
    _regressor: ClassVar[type[Any]] = RandomForestRegressor


class ExtraTrees(_Forest):
    """scikit-learn's extremely randomised trees."""

    name: ClassVar[str] = "extra_trees"
    _bootstrap_default: ClassVar[bool] = False
    _classifier: ClassVar[type[Any]] = ExtraTreesClassifier
    _regressor: ClassVar[type[Any]] = ExtraTreesRegressor


class HistGradientBoosting(Learner):
    """scikit-learn's histogram gradient boosting.

    ``early_stopping`` is ``"auto"`` (the library default: on above 10,000
    rows), ``"on"`` or ``"off"``; when on, 10% of the rows are held out.
    """

    name: ClassVar[str] = "hist_gradient_boosting"
    task_types: ClassVar[frozenset[TaskType]] = ALL_TASK_TYPES

    def search_space(self) -> ConfigurationSpace:
        """Build the histogram gradient boosting space; defaults are scikit-learn's."""
        space = ConfigurationSpace(name=self.name)
        space.add(
            [
                Float("learning_rate", (1e-3, 1.0), log=True, default=0.1),
                Integer("max_iter", (10, 1000), log=True, default=100),
                Integer("max_leaf_nodes", (4, 512), log=True, default=31),
                Integer("min_samples_leaf", (1, 200), log=True, default=20),
                Float("max_features", (0.1, 1.0), default=1.0),
                Integer("max_bins", (16, 255), log=True, default=255),
                Categorical("early_stopping", ["auto", "on", "off"], default="auto"),
            ]
        )
        _depth_limit(space, upper=32, default=8)
        _optional_log(space, "l2_regularization", (1e-4, 10.0), default=0.01)
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        stopping = {"auto": "auto", "on": True, "off": False}[as_str(config, "early_stopping")]
        params: dict[str, Any] = {
            "learning_rate": as_float(config, "learning_rate"),
            "max_iter": as_int(config, "max_iter"),
            "max_leaf_nodes": as_int(config, "max_leaf_nodes"),
            "max_depth": _max_depth_or(config, None),
            "min_samples_leaf": as_int(config, "min_samples_leaf"),
            "l2_regularization": optional_float(
                config, "use_l2_regularization", "l2_regularization"
            ),
            "max_features": as_float(config, "max_features"),
            "max_bins": as_int(config, "max_bins"),
            "early_stopping": stopping,
            # Codes from the ordinal encoder are numbers here, not categories.
            "categorical_features": None,
            "random_state": seed,
        }
        if task_type is TaskType.REGRESSION:
            model: Any = HistGradientBoostingRegressor(**params)
        else:
            model = HistGradientBoostingClassifier(**params)
        return make_pipeline("native_missing", model, n_threads)
