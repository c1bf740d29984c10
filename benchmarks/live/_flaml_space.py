"""Configs sampled from FLAML's own LightGBM search space: what a sensible random search gives.

FLAML tunes LightGBM in the space ``flaml.automl.model.LGBMEstimator.search_space``
returns for the training data's shape: ``n_estimators`` and ``num_leaves``
log-uniform from 4 up to the number of training rows (at most 32,768),
``min_child_samples`` 2-128, ``learning_rate`` 1/1024-1, ``log_max_bin`` 3-10
(``max_bin = 2**log_max_bin - 1``), ``colsample_bytree`` 0.01-1 and
``reg_alpha`` / ``reg_lambda`` 1/1024-1024, all log where FLAML says so. The
space is read from the installed FLAML, so the baseline follows FLAML's version.

:func:`flaml_space_configs` samples k configs from it with a seed, as LightGBM
keyword arguments (``max_bin`` already converted, as FLAML's ``config2params``
does). :data:`FLAML_SPACE_LIGHTGBM` trains them the way the FLAML zero-shot
baseline trains its choice: the LightGBM learner's default pipeline (its
preprocessing and fixed settings: seed, threads, deterministic,
``force_col_wise``) with the sampled values set on the model, so only the
hyperparameters differ from the other methods' configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from ConfigSpace import ConfigurationSpace, Float, Integer

from warmstart.benchmarks.learners import Learner, get_learner
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = ["FLAML_SPACE_LIGHTGBM", "FlamlSpaceLightGBM", "flaml_space_configs"]

# The widest bounds FLAML's space can take (its upper bounds grow with the rows, to
# 32,768, exclusive); a sampled config always lies inside them.
_ROUNDS_UPPER = 32_768


def flaml_space_configs(
    task_type: TaskType, n_rows: int, n_features: int, k: int, seed: int | Sequence[int]
) -> list[dict[str, ConfigValue]]:
    """Sample ``k`` LightGBM configs from FLAML's search space for this data size.

    Args:
        task_type: The task type (FLAML's space is the same for all three).
        n_rows: Training rows (FLAML's ``data_size[0]``; bounds ``n_estimators``
            and ``num_leaves``).
        n_features: Training columns (FLAML's ``data_size[1]``).
        k: How many configs.
        seed: Seed (or seed sequence) of the sampling; the same seed gives the same configs.

    Returns:
        ``k`` configs as LightGBM keyword arguments, in sampling order.

    Raises:
        InvalidRequestError: ``k`` or ``n_rows`` below 1.
    """
    if k < 1 or n_rows < 1:
        raise InvalidRequestError(f"k and n_rows must be >= 1, got k={k}, n_rows={n_rows}")
    from flaml.automl.model import LGBMEstimator

    task = "regression" if task_type is TaskType.REGRESSION else "classification"
    # FLAML is untyped: a dict of {name: {"domain": flaml.tune domain, ...}}.
    space = LGBMEstimator.search_space(  # type: ignore[no-untyped-call]
        data_size=(n_rows, n_features), task=task
    )
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        config: dict[str, ConfigValue] = {}
        for name in sorted(space):
            value = space[name]["domain"].sample(random_state=rng)
            if name == "log_max_bin":
                config["max_bin"] = (1 << int(value)) - 1
            elif isinstance(value, int | np.integer):
                config[name] = int(value)
            else:
                config[name] = float(value)
        out.append(config)
    return out


class FlamlSpaceLightGBM(Learner):
    """LightGBM with hyperparameters from FLAML's space, on the LightGBM learner's pipeline."""

    name: ClassVar[str] = "flaml_space_lightgbm"
    task_types: ClassVar[frozenset[TaskType]] = frozenset(TaskType)

    def search_space(self) -> ConfigurationSpace:
        """FLAML's LightGBM space at its widest (its upper bounds shrink on small data)."""
        space = ConfigurationSpace(name=self.name)
        space.add(
            [
                Integer("n_estimators", (4, _ROUNDS_UPPER), log=True, default=4),
                Integer("num_leaves", (4, _ROUNDS_UPPER), log=True, default=4),
                Integer("min_child_samples", (2, 129), log=True, default=20),
                Float("learning_rate", (1 / 1024, 1.0), log=True, default=0.1),
                Integer("max_bin", (7, 2047), log=True, default=255),
                Float("colsample_bytree", (0.01, 1.0), default=1.0),
                Float("reg_alpha", (1 / 1024, 1024.0), log=True, default=1 / 1024),
                Float("reg_lambda", (1 / 1024, 1024.0), log=True, default=1.0),
            ]
        )
        return space

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        lightgbm = get_learner("lightgbm")
        pipeline = lightgbm.make_estimator(
            lightgbm.default_config(), task_type, seed=seed, n_threads=n_threads
        )
        pipeline.set_params(**{f"model__{name}": value for name, value in config.items()})
        return pipeline


FLAML_SPACE_LIGHTGBM = FlamlSpaceLightGBM()
"""The instance that trains :func:`flaml_space_configs`' configs."""
