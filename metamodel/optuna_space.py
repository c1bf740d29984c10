"""Sample a ConfigSpace space with an Optuna trial, so enqueued configs replay exactly.

Optuna replays an enqueued trial by handing back its fixed value whenever the
objective calls ``trial.suggest_*`` with that parameter's name, so the seeded
configs only work if the objective suggests exactly the same names with
distributions that contain the values. :func:`suggest_from_space` is that
objective-side half: it walks the space in topological order and suggests only
the parameters that are active, with one fixed mapping per hyperparameter type:

========================  ===================================================
ConfigSpace               Optuna
========================  ===================================================
UniformFloat (log)        ``suggest_float(name, lower, upper, log=log)``
UniformInteger (log)      ``suggest_int(name, lower, upper, log=log)``
Categorical               ``suggest_categorical(name, choices)`` (weights ignored)
Ordinal                   ``suggest_categorical(name, sequence)`` (order not used)
Constant                  ``suggest_categorical(name, [value])``
========================  ===================================================

Optuna is an optional dependency (the ``optimizers`` extra); it is imported
only when a function here needs it at run time. ``warmstart.service.seeding`` builds the
user-facing helpers on this; the evaluation's seeding experiment uses it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ConfigSpace import (
    ConfigurationSpace,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import (
    active_parameters,
    canonical_config,
    listed_choices,
    validate_config,
)
from warmstart.metamodel.types import ConfigValue

if TYPE_CHECKING:
    import optuna

__all__ = ["suggest_from_space"]


def suggest_from_space(
    trial: optuna.trial.BaseTrial, space: ConfigurationSpace
) -> dict[str, ConfigValue]:
    """Sample a config of a ConfigSpace space with Optuna's define-by-run API.

    Only active parameters are suggested, in the space's topological order, so
    a conditional parameter is suggested only when its parent's value switches
    it on. An enqueued config from :func:`enqueue_suggestions` is therefore
    replayed exactly, and ``trial.params`` equals the returned config. Works
    with any trial: :class:`optuna.Trial`, :class:`optuna.trial.FixedTrial`
    (to re-run a config) and frozen trials.

    Args:
        trial: The trial to sample with.
        space: The search space.

    Returns:
        The sampled config: ``{name: value}`` of the active parameters.

    Raises:
        optuna.TrialPruned: If the sampled values fall under one of the space's
            forbidden clauses, which Optuna cannot express; the study records
            the trial as pruned and moves on. Catch it when using ask-and-tell.
        InvalidRequestError: If the space has a hyperparameter type other than
            those in the module's table (e.g. normal or beta distributions).
    """
    cs = space
    config: dict[str, ConfigValue] = {}
    for hp in cs.values():
        # Parents come before children, so the values so far decide activity.
        if hp.name in active_parameters(cs, config):
            config[hp.name] = _suggest(trial, hp)
    if cs.forbidden_clauses:
        try:
            validate_config(cs, config)
        except InvalidRequestError as exc:
            import optuna

            raise optuna.TrialPruned(f"sampled config is not allowed: {exc}") from None
    return config


def _suggest(trial: optuna.trial.BaseTrial, hp: Any) -> ConfigValue:
    name: str = hp.name
    if isinstance(hp, UniformFloatHyperparameter):
        return trial.suggest_float(name, float(hp.lower), float(hp.upper), log=bool(hp.log))
    if isinstance(hp, UniformIntegerHyperparameter):
        return trial.suggest_int(name, int(hp.lower), int(hp.upper), log=bool(hp.log))
    choices = listed_choices(hp)
    if choices is None:
        raise InvalidRequestError(
            f"parameter {name!r}: {type(hp).__name__} has no Optuna counterpart here; "
            "supported are uniform float/integer (log or not), categorical, ordinal, constant"
        )
    # The same plain values that validated (and so enqueued) configs carry.
    plain = [canonical_config({name: c})[name] for c in choices]
    return cast(ConfigValue, trial.suggest_categorical(name, plain))
