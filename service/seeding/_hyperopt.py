"""hyperopt: a ConfigSpace space as a hyperopt space, and configs as start points.

hyperopt labels must be unique across a space, but a conditional parameter
often hangs under several parent values (an SVM's ``coef0`` under the poly and
sigmoid kernels) or under a numeric condition (an MLP's ``units_3`` when
``n_layers > 2``), which nested ``hp.choice`` cannot express without renaming.
So the space is *flat*:

- every parameter is a label, sampled in every trial, active or not;
- the objective turns what it receives into the active config with
  :func:`config_from_hyperopt`, which drops inactive parameters and checks
  forbidden clauses;
- a start point fills inactive parameters with their defaults, which the
  objective drops again. TPE still learns from those filler values, so its
  model of an inactive parameter is noisier than with a tree space.

========================  ==============================================================
ConfigSpace               hyperopt
========================  ==============================================================
UniformFloat              ``hp.uniform`` (``hp.loguniform`` on log scale)
UniformInteger            ``scope.int(hp.quniform(lower - 0.5, upper + 0.5, 1))``
                          (``hp.qloguniform`` on log scale): every integer equally wide
Categorical, Ordinal      ``hp.choice`` (``hp.pchoice`` with weights); points hold the index
Constant                  the value itself (no label)
========================  ==============================================================

hyperopt is an optional dependency (the ``optimizers`` extra), imported only
inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    Constant,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import canonical_config
from warmstart.metamodel.types import ConfigValue
from warmstart.service.seeding._configs import (
    ConfigLike,
    SpaceLike,
    as_configspace,
    choice_values,
    optimizer_config,
    prepare_configs,
)

__all__ = [
    "config_from_hyperopt",
    "to_hyperopt_points_to_evaluate",
    "to_hyperopt_space",
    "to_hyperopt_trials",
]


def to_hyperopt_space(space: SpaceLike) -> dict[str, Any]:
    """Build the flat hyperopt space of a ConfigSpace space (see the module doc).

    Args:
        space: The search space.

    Returns:
        ``{name: hyperopt expression}`` for every parameter, to pass to ``fmin``.

    Raises:
        InvalidRequestError: If the space has a hyperparameter type other than
            those in the module's table.
    """
    from hyperopt import hp
    from hyperopt.pyll import scope

    out: dict[str, Any] = {}
    for param in as_configspace(space).values():
        name: str = param.name
        if isinstance(param, UniformFloatHyperparameter):
            low, high = float(param.lower), float(param.upper)
            out[name] = (
                hp.loguniform(name, math.log(low), math.log(high))
                if param.log
                else hp.uniform(name, low, high)
            )
        elif isinstance(param, UniformIntegerHyperparameter):
            # Widen by half a step so the end values are as likely as the rest.
            low, high = int(param.lower) - 0.5, int(param.upper) + 0.5
            draw = (
                hp.qloguniform(name, math.log(low), math.log(high), 1)
                if param.log
                else hp.quniform(name, low, high, 1)
            )
            out[name] = scope.int(draw)
        elif isinstance(param, Constant):
            out[name] = choice_values(param, "hyperopt")[0]
        else:
            choices = choice_values(param, "hyperopt")
            weights = getattr(param, "weights", None)
            out[name] = (
                hp.pchoice(name, [(float(w), c) for w, c in zip(weights, choices, strict=True)])
                if weights is not None
                else hp.choice(name, choices)
            )
    return out


def to_hyperopt_points_to_evaluate(
    space: SpaceLike, configs: Iterable[ConfigLike]
) -> list[dict[str, ConfigValue]]:
    """Turn suggested configs into ``fmin(points_to_evaluate=...)`` for :func:`to_hyperopt_space`.

    ``fmin`` evaluates the points first, then ``max_evals`` of the algorithm's
    own on top of them (hyperopt 0.3.0 counts its own evaluations only). It
    uses the points only when it creates the ``Trials`` itself
    (``trials=None``); to keep the ``Trials``, use :func:`to_hyperopt_trials`.

    Args:
        space: The search space the hyperopt space was built from.
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping, best first.

    Returns:
        One point per config, in order: numbers as they are, categorical and
        ordinal values as their index among the choices (hyperopt's encoding of
        ``hp.choice``), inactive parameters at their defaults, constants absent.

    Raises:
        InvalidRequestError: If an item has no config or a config is not valid
            in the space; the message names the config, parameter and allowed values.
    """
    cs = as_configspace(space)
    points: list[dict[str, ConfigValue]] = []
    for config in prepare_configs(configs, cs):
        point: dict[str, ConfigValue] = {}
        for param in cs.values():
            if isinstance(param, Constant):
                continue
            if param.name in config:
                value = config[param.name]
            else:
                value = canonical_config({param.name: param.default_value})[param.name]
            if isinstance(param, (CategoricalHyperparameter, OrdinalHyperparameter)):
                value = _index_of(choice_values(param, "hyperopt"), value)
            point[param.name] = value
        points.append(point)
    return points


def to_hyperopt_trials(space: SpaceLike, configs: Iterable[ConfigLike]) -> Any:
    """Build a ``hyperopt.Trials`` whose first trials are the suggested configs.

    This is what ``fmin(points_to_evaluate=...)`` builds internally, handed to
    you so that you keep the ``Trials``: pass it as ``fmin(trials=...)``, and
    the seeded configs are evaluated first, then ``max_evals`` of the
    algorithm's own (with hyperopt 0.3.0, ``max_evals`` does not count the
    seeds, and ``max_evals=0`` evaluates nothing, seeds included).

    Args:
        space: The search space the hyperopt space was built from.
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping, best first.

    Returns:
        A ``hyperopt.Trials`` holding one new trial per config.

    Raises:
        InvalidRequestError: If an item has no config or a config is not valid
            in the space.
    """
    from hyperopt.fmin import generate_trials_to_calculate

    return generate_trials_to_calculate(to_hyperopt_points_to_evaluate(space, configs))


def config_from_hyperopt(space: SpaceLike, params: Mapping[str, Any]) -> dict[str, ConfigValue]:
    """Turn what a hyperopt objective receives into the active config.

    Pass the objective's argument (or ``hyperopt.space_eval(hyperopt_space, best)``
    for ``fmin``'s result, whose choices are indices).

    Args:
        space: The search space the hyperopt space was built from.
        params: ``{name: value}`` with every parameter, active or not.

    Returns:
        The config with the active parameters only, in canonical form.

    Raises:
        InvalidRequestError: If the config is not valid in the space, e.g. it
            falls under a forbidden clause (return ``STATUS_FAIL`` for it).
    """
    cs = as_configspace(space)
    return optimizer_config(cs, params)


def _index_of(choices: Sequence[ConfigValue], value: ConfigValue) -> int:
    # bool is an int subclass: match the type too, so True never finds 1.
    for index, choice in enumerate(choices):
        if type(choice) is type(value) and choice == value:
            return index
    raise InvalidRequestError(f"value {value!r} is not one of {list(choices)!r}")
