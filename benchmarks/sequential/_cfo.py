"""FLAML's CFO (cost-frugal local search) on a ConfigSpace space, with ask/tell.

CFO searches a flat space of FLAML domains. The space's conditional
parameters are all given to CFO (each with its full range); before a config is
evaluated, the parameters its own values switch off are dropped, as the space's
conditions say. CFO starts its local search from the given start config.

As FLAML's own ``tune.run`` does, a step where CFO proposes nothing (a config
it has already tried, or a converged local search restarting) is asked again;
after :data:`MAX_EMPTY_ASKS` empty answers in a row the trial takes a random
config of the space instead (counted in the returned number of fallbacks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)

from warmstart.benchmarks.sequential._arms import Loss
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import (
    active_parameters,
    canonical_config,
    sample_configs,
    validate_config,
)
from warmstart.metamodel.types import ConfigValue

__all__ = ["MAX_EMPTY_ASKS", "cfo_search", "flaml_domains"]

MAX_EMPTY_ASKS = 100


def _choices(hp: Any) -> list[ConfigValue]:
    if isinstance(hp, CategoricalHyperparameter):
        values = list(hp.choices)
    elif isinstance(hp, OrdinalHyperparameter):
        values = list(hp.sequence)
    else:
        values = [hp.value]
    return [canonical_config({hp.name: v})[hp.name] for v in values]


def flaml_domains(space: ConfigurationSpace) -> dict[str, Any]:
    """Every parameter of ``space`` as a FLAML domain (conditions ignored: all present).

    Raises:
        InvalidRequestError: A parameter type without a FLAML counterpart here.
    """
    from flaml import tune as flaml_tune

    # FLAML is untyped: its domains are not exported for type checkers.
    tune: Any = flaml_tune
    out: dict[str, Any] = {}
    for hp in space.values():
        if isinstance(hp, UniformFloatHyperparameter):
            low, high = float(hp.lower), float(hp.upper)
            out[hp.name] = tune.loguniform(low, high) if hp.log else tune.uniform(low, high)
        elif isinstance(hp, UniformIntegerHyperparameter):
            # FLAML's integer domains exclude their upper bound.
            low, top = int(hp.lower), int(hp.upper) + 1
            out[hp.name] = tune.lograndint(low, top) if hp.log else tune.randint(low, top)
        elif isinstance(hp, CategoricalHyperparameter | OrdinalHyperparameter | Constant):
            out[hp.name] = tune.choice(_choices(hp))
        else:
            raise InvalidRequestError(
                f"parameter {hp.name!r}: {type(hp).__name__} has no FLAML counterpart here; "
                "supported are uniform float/integer (log or not), categorical, ordinal, constant"
            )
    return out


def _in_space(space: ConfigurationSpace, proposed: Mapping[str, Any]) -> dict[str, ConfigValue]:
    """CFO's flat proposal as a config of the space: plain values, inactive ones dropped.

    Raises:
        InvalidRequestError: The config is forbidden by the space.
    """
    values: dict[str, ConfigValue] = {}
    for hp in space.values():
        value = proposed[hp.name]
        if isinstance(hp, UniformFloatHyperparameter):
            values[hp.name] = float(np.clip(float(value), hp.lower, hp.upper))
        elif isinstance(hp, UniformIntegerHyperparameter):
            values[hp.name] = int(np.clip(round(float(value)), hp.lower, hp.upper))
        else:
            values[hp.name] = canonical_config({hp.name: value})[hp.name]
    active = active_parameters(space, values)
    return validate_config(space, {k: v for k, v in values.items() if k in active})


def _flat_start(space: ConfigurationSpace, start: Mapping[str, ConfigValue]) -> dict[str, Any]:
    """The start config with every parameter set (an inactive one at its own default)."""
    out: dict[str, Any] = {}
    for hp in space.values():
        out[hp.name] = (
            start[hp.name]
            if hp.name in start
            else canonical_config({hp.name: hp.default_value})[hp.name]
        )
    return out


def cfo_search(
    space: ConfigurationSpace,
    loss: Loss,
    n_trials: int,
    seed: int,
    start: Mapping[str, ConfigValue],
    *,
    worst: float = 1.0,
) -> tuple[list[dict[str, ConfigValue]], list[float], int]:
    """Run FLAML's CFO for ``n_trials`` trials from ``start``.

    Args:
        space: The search space.
        loss: The objective (NaN: failed; CFO is told the ``worst`` loss then).
        n_trials: Trials to run.
        seed: CFO's seed (and the fallback sampler's).
        start: The config CFO evaluates first and searches around.
        worst: Loss of a forbidden config, and what CFO is told for a failed one.

    Returns:
        The configs tried, their losses, and how many trials fell back to a random config.
    """
    from flaml.tune.searcher.blendsearch import CFO

    searcher = CFO(
        metric="loss",
        mode="min",
        space=flaml_domains(space),
        points_to_evaluate=[_flat_start(space, start)],
        seed=seed,
    )
    configs: list[dict[str, ConfigValue]] = []
    losses: list[float] = []
    fallbacks = 0
    asked = 0
    for trial in range(n_trials):
        proposed = None
        for _ in range(MAX_EMPTY_ASKS):
            trial_id = str(asked)
            asked += 1
            proposed = searcher.suggest(trial_id)
            if proposed is not None:
                break
        if proposed is None:
            fallbacks += 1
            config = sample_configs(
                space, 1, method="random", seed=seed * 7919 + trial, include_default=False
            )[0]
            value = float(loss(config))
        else:
            try:
                config = _in_space(space, proposed)
            except InvalidRequestError:
                config, value = dict(proposed), worst
            else:
                value = float(loss(config))
            told = worst if math.isnan(value) else value
            searcher.on_trial_complete(trial_id, {"loss": told, "config": proposed})
        configs.append(config)
        losses.append(value)
    return configs, losses, fallbacks
