"""ConfigSpace and SMAC: suggested configs as ``Configuration`` objects.

SMAC (2.x) takes extra starting points as ConfigSpace configurations through
its initial design's ``additional_configs`` argument, but evaluates them
after the design's own (five Sobol configs first); to evaluate the
suggestions first, use :func:`warmstart.service.seeding.to_smac_initial_design`::

    from smac import HyperparameterOptimizationFacade as HPO

    design = to_smac_initial_design(scenario, suggestions)
    smac = HPO(scenario, train, initial_design=design)

SMAC is an optional dependency (the ``smac`` extra) and is not imported here.
"""

from __future__ import annotations

from collections.abc import Iterable

from ConfigSpace import Configuration

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.seeding._configs import (
    ConfigLike,
    SpaceLike,
    as_configspace,
    prepare_configs,
)

__all__ = ["to_configurations"]


def to_configurations(space: SpaceLike, configs: Iterable[ConfigLike]) -> list[Configuration]:
    """Turn suggested configs into validated ConfigSpace configurations.

    Args:
        space: The search space the configurations belong to.
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping.

    Returns:
        One :class:`ConfigSpace.Configuration` per config, in order, each passed
        through ``check_valid_configuration`` (inactive parameters unset).

    Raises:
        InvalidRequestError: If a config is not valid in the space; the message
            names the config's position, the parameter and what is allowed.
    """
    cs = as_configspace(space)
    out: list[Configuration] = []
    for index, config in enumerate(prepare_configs(configs, cs)):
        try:
            configuration = Configuration(cs, values=config)
            configuration.check_valid_configuration()
        except Exception as exc:  # ConfigSpace raises many kinds; validate_config ran first
            raise InvalidRequestError(
                f"config #{index}: not a valid configuration ({exc})"
            ) from None
        out.append(configuration)
    return out
