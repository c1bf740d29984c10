"""Ray Tune: suggested configs as ``points_to_evaluate``.

Ray is not a dependency of warmstart and is not imported here: the points are
plain dicts. Ray Tune's search algorithms (``BasicVariantGenerator``,
``OptunaSearch``, ``HyperOptSearch``, ...) take them as ``points_to_evaluate``
and run them before their own suggestions.

Conditional spaces: a point holds the active parameters only. A flat Ray
``param_space`` has every parameter, and a search algorithm may fill the
absent inactive ones from it, so the trainable should read only the
parameters its config makes active (as warmstart's learners do). With
``OptunaSearch`` and a define-by-run ``space`` built on
:func:`warmstart.service.seeding.suggest_from_space`, the names match exactly. Ray is
not installed in warmstart's environment, so these combinations are not
tested here.
"""

from __future__ import annotations

from collections.abc import Iterable

from warmstart.metamodel.types import ConfigValue
from warmstart.service.seeding._configs import ConfigLike, SpaceLike, prepare_configs

__all__ = ["to_raytune_points_to_evaluate"]


def to_raytune_points_to_evaluate(
    configs: Iterable[ConfigLike], space: SpaceLike | None = None
) -> list[dict[str, ConfigValue]]:
    """Turn suggested configs into Ray Tune's ``points_to_evaluate``.

    Args:
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping, best first.
        space: The search space; when given, every config is validated first.

    Returns:
        One plain dict per config, in order, with inactive parameters absent.

    Raises:
        InvalidRequestError: If an item has no config or (with ``space``) a config
            is not valid in the space.
    """
    return prepare_configs(configs, space)
