"""SMAC: an initial design that evaluates warmstart's suggestions first.

SMAC 2's own recipe, ``HPO.get_initial_design(scenario, additional_configs=...)``,
puts the additional configs *after* the design's space-filling ones (five Sobol
configs, then the suggestions 6th to 10th). :func:`to_smac_initial_design`
returns a design that puts the suggestions first, in order, then the design's
own configs (none by default: with warm starts there is little use in random
ones), then SMAC's default configuration if the scenario asks for it::

    from smac import HyperparameterOptimizationFacade as HPO, Scenario
    from warmstart.seeding import to_smac_initial_design

    scenario = Scenario(space, n_trials=50, deterministic=True)
    design = to_smac_initial_design(scenario, suggestions)
    smac = HPO(scenario, train, initial_design=design)

SMAC is an optional dependency (the ``smac`` extra), imported only inside the
function.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.seeding._configs import ConfigLike
from warmstart.service.seeding._configspace import to_configurations

__all__ = ["to_smac_initial_design"]

ORIGIN = "Initial design: warmstart suggestion"
"""The ``origin`` of the suggested configurations, as SMAC's run history shows it."""


def to_smac_initial_design(
    scenario: Any,
    configs: Iterable[ConfigLike],
    *,
    n_configs: int = 0,
    design: type | None = None,
    seed: int | None = None,
) -> Any:
    """Build a SMAC initial design whose first configurations are the suggestions.

    Args:
        scenario: The ``smac.Scenario``; the configs must be valid in its
            ``configspace``.
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping, best first.
        n_configs: How many of the design's own configurations follow the
            suggestions (0: none; SMAC's facades use 10 per hyperparameter, at
            most a quarter of the trials).
        design: The SMAC initial design class that draws those (default
            ``smac.initial_design.SobolInitialDesign``).
        seed: The design's seed (default: the scenario's).

    Returns:
        An instance of a subclass of ``design``, to pass as ``initial_design=``
        to a SMAC facade. Its ``select_configurations()`` lists the
        suggestions first, in order, then the design's own configurations, then
        the default configuration when ``scenario.use_default_config`` is set;
        duplicates are dropped.

    Raises:
        InvalidRequestError: If a config is not valid in the scenario's space,
            ``n_configs`` is negative, or the suggestions and ``n_configs``
            together exceed ``scenario.n_trials``.
    """
    from smac.initial_design import SobolInitialDesign

    if isinstance(n_configs, bool) or not isinstance(n_configs, int) or n_configs < 0:
        raise InvalidRequestError(f"n_configs must be an integer >= 0, got {n_configs!r}")
    suggested = to_configurations(scenario.configspace, configs)
    for configuration in suggested:
        configuration.origin = ORIGIN
    if len(suggested) + n_configs > scenario.n_trials:
        raise InvalidRequestError(
            f"{len(suggested)} suggestions and n_configs={n_configs} make more initial "
            f"configurations than the scenario's n_trials={scenario.n_trials}: give fewer "
            "suggestions or a larger n_trials"
        )
    cls = _suggestions_first(design or SobolInitialDesign)
    return cls(scenario, n_configs=n_configs, additional_configs=suggested, seed=seed)


@functools.cache
def _suggestions_first(base: type[Any]) -> type[Any]:
    """A subclass of a SMAC initial design that lists the additional configs first."""

    def select_configurations(self: Any) -> list[Any]:
        chosen: list[Any] = base.select_configurations(self)  # own, then additional
        first = list(dict.fromkeys(self._additional_configs))
        return first + [c for c in chosen if c not in first]

    return type(
        f"WarmstartFirst{base.__name__}",
        (base,),
        {
            "select_configurations": select_configurations,
            "__doc__": f"{base.__name__} that evaluates the suggestions first.",
            "__module__": __name__,
        },
    )
