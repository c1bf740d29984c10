"""Seed optimizers with warmstart's suggestions.

Each helper takes the suggestions as they come (plain ``{name: value}``
configs of the active parameters, or suggestion objects with a ``.config``
mapping) and the ConfigSpace space they belong to, validates every config
before handing any over, and returns what the optimizer expects:

- Optuna: :func:`enqueue_suggestions` enqueues them into a study, and
  :func:`suggest_from_space` samples the same space with a trial, so the
  enqueued configs (conditional parameters included) are replayed exactly.
- SMAC / ConfigSpace: :func:`to_configurations` gives ``Configuration`` objects.
- Ray Tune: :func:`to_raytune_points_to_evaluate` gives ``points_to_evaluate``.
- hyperopt: :func:`to_hyperopt_space` for the space, :func:`to_hyperopt_trials`
  (or :func:`to_hyperopt_points_to_evaluate`) for the seeds, and
  :func:`config_from_hyperopt` in the objective.

Optuna and hyperopt are optional (the ``optimizers`` extra) and imported only
when used; Ray and SMAC are never imported.
"""

from __future__ import annotations

from warmstart.service.seeding._configs import ConfigLike, HasConfig, SpaceLike, prepare_configs
from warmstart.service.seeding._configspace import to_configurations
from warmstart.service.seeding._hyperopt import (
    config_from_hyperopt,
    to_hyperopt_points_to_evaluate,
    to_hyperopt_space,
    to_hyperopt_trials,
)
from warmstart.service.seeding._optuna import enqueue_suggestions, suggest_from_space
from warmstart.service.seeding._raytune import to_raytune_points_to_evaluate

__all__ = [
    "ConfigLike",
    "HasConfig",
    "SpaceLike",
    "config_from_hyperopt",
    "enqueue_suggestions",
    "prepare_configs",
    "suggest_from_space",
    "to_configurations",
    "to_hyperopt_points_to_evaluate",
    "to_hyperopt_space",
    "to_hyperopt_trials",
    "to_raytune_points_to_evaluate",
]
