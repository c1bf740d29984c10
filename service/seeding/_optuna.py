"""Optuna: enqueue suggested configs, and sample a ConfigSpace space with a trial.

Optuna replays an enqueued trial by handing back its fixed value whenever the
objective calls ``trial.suggest_*`` with that parameter's name, so the seeded
configs only work if the objective suggests exactly the same names with
distributions that contain the values. :func:`suggest_from_space` is that
objective-side half (the mapping of each hyperparameter type is in
:mod:`warmstart.metamodel.optuna_space`).

Optuna is an optional dependency (the ``optimizers`` extra); it is imported
only when a function here needs it at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from warmstart.metamodel.optuna_space import suggest_from_space as _suggest_from_space
from warmstart.metamodel.types import ConfigValue
from warmstart.service.seeding._configs import (
    ConfigLike,
    SpaceLike,
    as_configspace,
    prepare_configs,
)

if TYPE_CHECKING:
    import optuna

__all__ = ["enqueue_suggestions", "suggest_from_space"]


def enqueue_suggestions(
    study: optuna.Study,
    configs: Iterable[ConfigLike],
    space: SpaceLike | None = None,
    *,
    user_attrs: Mapping[str, Any] | None = None,
) -> int:
    """Enqueue suggested configs so that the study evaluates them first, in order.

    Configs equal to a trial the study already has (waiting, running or
    finished, whether enqueued or sampled) are skipped, so seeding the same
    study twice is harmless. Pair this with :func:`suggest_from_space` in the
    objective, which suggests exactly the names and values enqueued here.

    Args:
        study: The Optuna study to seed.
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping, best first.
        space: The search space. When given, every config is validated against
            it before anything is enqueued; strongly recommended, since Optuna
            itself only warns about a fixed value outside its distribution.
        user_attrs: User attributes set on each enqueued trial, e.g.
            ``{"source": "warmstart"}``.

    Returns:
        How many trials this call added (configs already in the study are not
        counted). Processes that enqueue into the same study at the same time
        may both add a config, as Optuna documents for ``skip_if_exists``.

    Raises:
        InvalidRequestError: If an item has no config or (with ``space``) a config
            is not valid in the space; nothing is enqueued then.
    """
    prepared = prepare_configs(configs, space)
    attrs = dict(user_attrs) if user_attrs is not None else None
    added = 0
    for config in prepared:
        before = len(study.get_trials(deepcopy=False))
        study.enqueue_trial(dict(config), user_attrs=attrs, skip_if_exists=True)
        added += len(study.get_trials(deepcopy=False)) - before
    return added


def suggest_from_space(trial: optuna.trial.BaseTrial, space: SpaceLike) -> dict[str, ConfigValue]:
    """Sample a config of a space with Optuna's define-by-run API, replaying enqueued ones.

    :func:`warmstart.metamodel.optuna_space.suggest_from_space` for a ConfigSpace space or a
    stored :class:`~warmstart.metamodel.types.SearchSpace`; see it for the mapping of each
    parameter type, conditional parameters and forbidden clauses.

    Args:
        trial: The trial to sample with.
        space: The search space.

    Returns:
        The sampled config: ``{name: value}`` of the active parameters.
    """
    return _suggest_from_space(trial, as_configspace(space))
