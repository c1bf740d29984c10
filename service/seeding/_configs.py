"""What every seeding helper takes: suggestions as plain configs, and a space.

A suggestion is accepted in any of three shapes, told apart by duck-typing:
a plain ``{name: value}`` mapping, the core's :class:`~warmstart.metamodel.types.Suggestion`,
or the client's suggestion type; the last two are read through their ``.config``
attribute. Configs hold the *active* parameters only, as the service returns them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeAlias

from ConfigSpace import (
    ConfigurationSpace,
    UniformIntegerHyperparameter,
)

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import (
    active_parameters,
    canonical_config,
    listed_choices,
    load_configspace,
    validate_config,
)
from warmstart.metamodel.types import ConfigValue, SearchSpace

__all__ = [
    "ConfigLike",
    "HasConfig",
    "SpaceLike",
    "as_configspace",
    "choice_values",
    "optimizer_config",
    "prepare_configs",
]


class HasConfig(Protocol):
    """Anything with a ``config`` mapping, e.g. :class:`warmstart.metamodel.types.Suggestion`."""

    @property
    def config(self) -> Mapping[str, object]:
        """The suggested config: ``{name: value}`` of the active parameters."""
        ...


ConfigLike: TypeAlias = Mapping[str, object] | HasConfig
"""A plain config or a suggestion that carries one in ``.config``."""

SpaceLike: TypeAlias = ConfigurationSpace | SearchSpace
"""A ConfigSpace space, or a stored :class:`~warmstart.metamodel.types.SearchSpace`."""


def as_configspace(space: SpaceLike) -> ConfigurationSpace:
    """Return the ConfigSpace object of ``space``.

    Raises:
        InvalidRequestError: If ``space`` is neither a ConfigSpace space nor a SearchSpace.
    """
    if isinstance(space, ConfigurationSpace):
        return space
    if isinstance(space, SearchSpace):
        return load_configspace(space)
    raise InvalidRequestError(
        "space must be a ConfigSpace ConfigurationSpace or a warmstart SearchSpace, "
        f"got {type(space).__name__}"
    )


def _config_of(index: int, item: object) -> Mapping[str, object]:
    config = item if isinstance(item, Mapping) else getattr(item, "config", None)
    if not isinstance(config, Mapping):
        raise InvalidRequestError(
            f"config #{index} must be a mapping of parameter values or have a `.config` "
            f"mapping (a Suggestion), got {type(item).__name__}"
        )
    return config


def prepare_configs(
    configs: Iterable[ConfigLike], space: SpaceLike | None = None
) -> list[dict[str, ConfigValue]]:
    """Turn suggestions into plain canonical configs, validated when a space is given.

    Every config is checked before any is returned, so a caller that seeds an
    optimizer with the result changes nothing when one of them is invalid.

    Args:
        configs: Plain configs or objects with a ``.config`` mapping, in order.
        space: The search space to validate against; ``None`` only converts values
            to plain ``int | float | str | bool``.

    Returns:
        One ``{name: value}`` dict per input, in the same order, with the active
        parameters only.

    Raises:
        InvalidRequestError: If an item has no config, or (with ``space``) a config
            is not valid in the space; the message names the config's position,
            the parameter and what is allowed.
    """
    if isinstance(configs, Mapping):
        raise InvalidRequestError(
            "configs must be a sequence of configs; wrap a single config in a list"
        )
    if not isinstance(configs, Iterable):
        hint = "; pass answer.suggestions" if hasattr(configs, "suggestions") else ""
        raise InvalidRequestError(
            f"configs must be a sequence of configs, got {type(configs).__name__}{hint}"
        )
    cs = as_configspace(space) if space is not None else None
    out: list[dict[str, ConfigValue]] = []
    for index, item in enumerate(configs):
        config = _config_of(index, item)
        try:
            out.append(validate_config(cs, config) if cs is not None else canonical_config(config))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"config #{index}: {exc}") from None
    return out


def choice_values(param: Any, library: str) -> list[ConfigValue]:
    """A categorical, ordinal or constant parameter's values, as plain canonical values.

    Raises:
        InvalidRequestError: If the parameter has no list of values; the message
            names ``library`` as the one it has no counterpart in.
    """
    raw = listed_choices(param)
    if raw is None:
        raise InvalidRequestError(
            f"parameter {param.name!r}: {type(param).__name__} has no {library} counterpart "
            "here; supported are uniform float/integer (log or not), categorical, ordinal, "
            "constant"
        )
    return [canonical_config({param.name: c})[param.name] for c in raw]


def optimizer_config(cs: ConfigurationSpace, values: Mapping[str, Any]) -> dict[str, ConfigValue]:
    """The valid config of an optimizer's flat values.

    Integers are rounded and clipped into their bounds, inactive parameters dropped.

    Raises:
        InvalidRequestError: If the config is not valid in the space.
    """
    plain = canonical_config(values)
    for param in cs.values():
        if isinstance(param, UniformIntegerHyperparameter) and param.name in plain:
            number = plain[param.name]
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                plain[param.name] = min(max(round(number), int(param.lower)), int(param.upper))
    active = active_parameters(cs, plain)
    return validate_config(cs, {k: v for k, v in plain.items() if k in active})
