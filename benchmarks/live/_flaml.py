"""FLAML's zero-shot LightGBM (``flaml.default``) as a learner the runner's protocol can evaluate.

FLAML picks LightGBM hyperparameters from four meta-features of the training
data (rows, features, classes, share of numeric features) by looking up the
nearest task of its own mined portfolio. Its choices may lie outside
warmstart's LightGBM space (``num_leaves`` above 1024, ``max_bin`` below 16,
``n_estimators`` beyond 2000...), so they are used as FLAML gives them, not
clipped into the space. As FLAML intends (its ``flaml.default`` estimators do
this in ``fit``), the hyperparameters are asked for with the rows the model is
then fitted on: each cross-validation fold asks again with its training rows.
Everything else matches the LightGBM learner exactly: its preprocessing, its
fixed settings (seed, threads, deterministic, ``force_col_wise``), the same CV
splits, row cap and metric, because the estimator is the LightGBM learner's
default pipeline with FLAML's hyperparameters set on the model.

FLAML is optional (the ``evaluation`` extra); without it the baseline is
skipped, see :func:`flaml_missing_reason`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace
from sklearn.base import BaseEstimator

from warmstart.benchmarks.learners import Learner, get_learner
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = [
    "FLAML_LIGHTGBM",
    "FlamlLightGBM",
    "FlamlLightGBMEstimator",
    "flaml_lightgbm_params",
    "flaml_missing_reason",
]

# Left to the LightGBM learner, so both baselines and ours run alike.
_OWN_SETTINGS = frozenset({"n_jobs", "num_threads", "verbose", "verbosity", "random_state", "seed"})


def flaml_missing_reason() -> str | None:
    """Why the FLAML baseline cannot run (``None`` when FLAML is importable)."""
    try:
        import flaml.default  # noqa: F401
    except ImportError as exc:
        return (
            f"FLAML is not installed ({exc}); the FLAML zero-shot baseline is skipped. "
            "Install it with: pip install 'warmstart[evaluation]'"
        )
    return None


def flaml_lightgbm_params(task_type: TaskType, X: Any, y: Any) -> dict[str, Any]:
    """FLAML's zero-shot LightGBM hyperparameters for this training data.

    Args:
        task_type: The task type.
        X: Training features (a DataFrame, as the protocol passes them).
        y: Training target (encoded class indices or floats).

    Returns:
        LightGBM keyword arguments as FLAML gives them (``max_bin`` from its
        ``log_max_bin``), without the thread, seed and verbosity settings;
        empty when FLAML's choice is LightGBM's own defaults.
    """
    from flaml.default.suggest import preprocess_and_suggest_hyperparams

    task = "regression" if task_type is TaskType.REGRESSION else "classification"
    frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    # FLAML is untyped; the first of the six values it returns is the hyperparameters.
    hyperparams, *_ = preprocess_and_suggest_hyperparams(  # type: ignore[no-untyped-call]
        task, frame, pd.Series(y), "lgbm"
    )
    return {k: _plain(v) for k, v in (hyperparams or {}).items() if k not in _OWN_SETTINGS}


def _plain(value: Any) -> Any:
    """NumPy scalars as Python numbers (for JSON and reports)."""
    return value.item() if isinstance(value, np.generic) else value


class FlamlLightGBMEstimator(BaseEstimator):  # type: ignore[misc]
    """LightGBM with FLAML's zero-shot hyperparameters for the rows it is fitted on.

    Args:
        task_type: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        seed: LightGBM's seed (as the learner sets it).
        n_threads: Thread limit.

    Attributes:
        hyperparams_: FLAML's hyperparameters used in the last ``fit``.
        pipeline_: The fitted LightGBM learner pipeline.
        classes_: Class labels seen in ``fit`` (classification).
    """

    def __init__(self, task_type: str = "binary", seed: int = 0, n_threads: int = 1) -> None:
        self.task_type = task_type
        self.seed = seed
        self.n_threads = n_threads

    def fit(self, X: Any, y: Any) -> FlamlLightGBMEstimator:
        """Ask FLAML for hyperparameters from ``(X, y)``, then fit LightGBM with them."""
        kind = TaskType(self.task_type)
        params = flaml_lightgbm_params(kind, X, y)
        lightgbm = get_learner("lightgbm")
        pipeline = lightgbm.make_estimator(
            lightgbm.default_config(), kind, seed=self.seed, n_threads=self.n_threads
        )
        pipeline.set_params(**{f"model__{name}": value for name, value in params.items()})
        pipeline.fit(X, y)
        self.hyperparams_ = params
        self.pipeline_ = pipeline
        if kind is not TaskType.REGRESSION:
            self.classes_ = pipeline.classes_
        return self

    def predict(self, X: Any) -> Any:
        """Predict with the fitted pipeline."""
        return self.pipeline_.predict(X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (columns in ``classes_`` order)."""
        return self.pipeline_.predict_proba(X)


class FlamlLightGBM(Learner):
    """FLAML's zero-shot LightGBM as a learner with an empty space (its config is ``{}``)."""

    name: ClassVar[str] = "flaml_zeroshot_lightgbm"
    task_types: ClassVar[frozenset[TaskType]] = frozenset(TaskType)

    def search_space(self) -> ConfigurationSpace:
        """An empty space: FLAML chooses every hyperparameter itself."""
        return ConfigurationSpace(name=self.name)

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        return FlamlLightGBMEstimator(task_type.value, seed, n_threads)


FLAML_LIGHTGBM = FlamlLightGBM()
"""The instance to evaluate (``warmstart.benchmarks.live:FLAML_LIGHTGBM`` for the runner)."""
