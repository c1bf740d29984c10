"""Where FLAML's CFO starts: FLAML's zero-shot config, moved into warmstart's space.

FLAML has a zero-shot config (``flaml.default``) for LightGBM: the portfolio
config of the nearest task of its own meta-data, chosen from four
meta-features of the training rows (rows, features, classes, share of numeric
features). Live mode asks it with the rows (:func:`flaml_lightgbm_params`);
on a surrogate benchmark there are no rows, so :func:`flaml_zeroshot_for_task`
gives FLAML the same four numbers from the stored task: the rows a CV
training fold of the records' protocol holds, the task's features and
classes, and the share of non-categorical features.

FLAML's choice may lie outside warmstart's LightGBM space (``num_leaves``
above 1,024, ``max_bin`` below 16, ``colsample_bytree`` below 0.1, L1/L2
penalties above 10/100); :func:`lightgbm_start` clips each value into the
space's range and leaves what FLAML does not set (depth limit, subsampling,
``min_split_gain``) at the space's defaults. FLAML's regularisation is always
on (its smallest penalty is 1/1024), so ``use_reg_alpha`` and
``use_reg_lambda`` are on.

Other spaces have no FLAML zero-shot config mapped here; CFO starts there from
the space's default config (:func:`cfo_start`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace, UniformFloatHyperparameter, UniformIntegerHyperparameter

from warmstart.metamodel.spaces import default_config, validate_config
from warmstart.metamodel.types import ConfigValue, Task, TaskType

__all__ = ["cfo_start", "flaml_zeroshot_for_task", "lightgbm_start"]

# LightGBM keyword arguments FLAML sets, as warmstart's LightGBM space names them.
_NUMERIC = (
    "n_estimators",
    "num_leaves",
    "min_child_samples",
    "learning_rate",
    "max_bin",
    "colsample_bytree",
    "reg_alpha",
    "reg_lambda",
)


def flaml_zeroshot_for_task(task: Task, train_rows: int) -> dict[str, Any]:
    """FLAML's zero-shot LightGBM hyperparameters from a stored task's description.

    Args:
        task: The stored task (its type, features, classes and categorical share).
        train_rows: Rows a model is fitted on (FLAML's ``NumberOfInstances``).

    Returns:
        LightGBM keyword arguments (``max_bin`` from FLAML's ``log_max_bin``);
        empty when FLAML's choice is LightGBM's defaults.
    """
    from flaml.default.suggest import suggest_config

    if task.task_type is TaskType.REGRESSION:
        kind, classes = "regression", 0
    else:
        kind = "binary" if task.task_type is TaskType.BINARY else "multiclass"
        classes = task.n_classes or 2
    numeric = 1.0 - float(task.stats.get("categorical_fraction", 0.0))
    values = {
        "NumberOfInstances": train_rows,
        "NumberOfFeatures": task.n_features,
        "NumberOfClasses": classes,
        "PercentageOfNumericFeatures": numeric,
    }

    def meta_features(*_: Any, meta_feature_names: list[str], **__: Any) -> list[float]:
        return [float(values[name]) for name in meta_feature_names]

    # FLAML is untyped: a list of {"class": ..., "hyperparameters": {...}}.
    chosen = suggest_config(  # type: ignore[no-untyped-call]
        kind, None, None, "lgbm", k=1, meta_feature_fn=meta_features
    )[0]
    params = dict(chosen.get("hyperparameters") or {})
    if "log_max_bin" in params:
        params["max_bin"] = (1 << int(params.pop("log_max_bin"))) - 1
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}


def lightgbm_start(space: ConfigurationSpace, params: Mapping[str, Any]) -> dict[str, ConfigValue]:
    """FLAML's LightGBM keyword arguments as a config of warmstart's LightGBM space (clipped).

    Empty ``params`` (FLAML's choice is LightGBM's defaults) give the space's default config.
    """
    config = default_config(space)
    if not params:
        return config
    for name in _NUMERIC:
        if name not in params or name not in space:
            continue
        hp = space[name]
        if isinstance(hp, UniformIntegerHyperparameter | UniformFloatHyperparameter):
            value = float(np.clip(float(params[name]), hp.lower, hp.upper))
            config[name] = round(value) if isinstance(hp, UniformIntegerHyperparameter) else value
    for name, flag in (("reg_alpha", "use_reg_alpha"), ("reg_lambda", "use_reg_lambda")):
        if name in params and flag in space:
            config[flag] = True
    return validate_config(space, config)


def cfo_start(
    space_name: str, space: ConfigurationSpace, flaml_params: Mapping[str, Any] | None
) -> dict[str, ConfigValue]:
    """CFO's start: FLAML's zero-shot config for LightGBM (when given), else the default."""
    if space_name == "lightgbm" and flaml_params is not None:
        return lightgbm_start(space, flaml_params)
    return default_config(space)
