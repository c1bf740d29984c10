"""Seed optimizers with warmstart's suggestions.

Each helper takes the suggestions as they come (plain ``{name: value}``
configs of the active parameters, or suggestion objects with a ``.config``
mapping) and the ConfigSpace space they belong to, validates every config
before handing any over, and returns what the optimizer expects:

- Optuna: :func:`enqueue_suggestions` enqueues them into a study, and
  :func:`suggest_from_space` samples the same space with a trial, so the
  enqueued configs (conditional parameters included) are replayed exactly.
  :class:`WarmstartSampler` goes further: it asks warmstart for every trial's
  config, given the study's finished trials.
- SMAC / ConfigSpace: :func:`to_configurations` gives ``Configuration`` objects,
  :func:`to_smac_initial_design` an initial design that evaluates them first.
- Ray Tune: :func:`to_raytune_space` gives a ``param_space`` (conditional
  parameters nested), :func:`to_raytune_hyperopt_search` a HyperOptSearch seeded
  with the configs, :func:`to_raytune_points_to_evaluate` plain
  ``points_to_evaluate``, and :func:`config_from_raytune` the active config in
  the trainable.
- hyperopt: :func:`to_hyperopt_space` for the space, :func:`to_hyperopt_trials`
  (or :func:`to_hyperopt_points_to_evaluate`) for the seeds, and
  :func:`config_from_hyperopt` in the objective.

Optuna and hyperopt are optional (the ``optimizers`` extra), SMAC and Ray Tune
too; each is imported only when a helper that needs it is called
(``WarmstartSampler`` imports Optuna when the name is first used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warmstart.service.seeding._configs import ConfigLike, HasConfig, SpaceLike, prepare_configs
from warmstart.service.seeding._configspace import to_configurations
from warmstart.service.seeding._hyperopt import (
    config_from_hyperopt,
    to_hyperopt_points_to_evaluate,
    to_hyperopt_space,
    to_hyperopt_trials,
)
from warmstart.service.seeding._optuna import enqueue_suggestions, suggest_from_space
from warmstart.service.seeding._raytune import (
    config_from_raytune,
    to_raytune_hyperopt_search,
    to_raytune_points_to_evaluate,
    to_raytune_space,
)
from warmstart.service.seeding._smac import to_smac_initial_design

if TYPE_CHECKING:
    from warmstart.service.seeding._sampler import WarmstartSampler

__all__ = [
    "ConfigLike",
    "HasConfig",
    "SpaceLike",
    "WarmstartSampler",
    "config_from_hyperopt",
    "config_from_raytune",
    "enqueue_suggestions",
    "prepare_configs",
    "suggest_from_space",
    "to_configurations",
    "to_hyperopt_points_to_evaluate",
    "to_hyperopt_space",
    "to_hyperopt_trials",
    "to_raytune_hyperopt_search",
    "to_raytune_points_to_evaluate",
    "to_raytune_space",
    "to_smac_initial_design",
]


def __getattr__(name: str) -> Any:
    # The sampler subclasses Optuna's BaseSampler, so its module imports Optuna.
    if name == "WarmstartSampler":
        try:
            from warmstart.service.seeding._sampler import WarmstartSampler
        except ModuleNotFoundError as exc:
            if exc.name != "optuna":
                raise
            raise ModuleNotFoundError(
                "WarmstartSampler is an Optuna sampler and needs Optuna: "
                "pip install 'warmstart[optimizers]'",
                name="optuna",
            ) from exc
        return WarmstartSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
