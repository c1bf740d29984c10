"""Ray Tune: a ConfigSpace space as a ``param_space``, and configs as start points.

Conditional spaces. Ray Tune has no conditions, so :func:`to_raytune_space`
nests them, in the form HyperOptSearch understands: a parameter that switches
others on becomes a ``tune.choice`` of branch dicts, one branch per group of
its values that switch on the same children (LightGBM's ``limit_depth``:
``{limit_depth: False}`` or ``{limit_depth: True, max_depth: ...}``; an integer
parent such as ``subsample_freq > 0``: ``{0}`` or ``1..10``). Each branch sits
under its own key (``"limit_depth#1"``) so that every label is unique, as
hyperopt requires. A sampled config is therefore nested, never holds an
inactive parameter, and :func:`config_from_raytune` turns it into the flat
active config (the trainable's first line)::

    from ray import tune
    from warmstart.seeding import config_from_raytune, to_raytune_hyperopt_search

    def trainable(config):
        params = config_from_raytune(space, config)   # {name: value}, active only
        ...

    search = to_raytune_hyperopt_search(space, suggestions, metric="score", mode="max")
    tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=search, num_samples=50)).fit()

The branches are drawn with equal probability (the parent's values within a
branch uniformly, on a log scale where the parameter has one); weights of
categorical parameters are not carried over; forbidden clauses cannot be
expressed, so :func:`config_from_raytune` refuses a config under one (report
the trial as failed).

Start points. Ray's HyperOptSearch cannot take ``points_to_evaluate`` for a
nested space (it looks the branch values up among literal choices only), so
:func:`to_raytune_hyperopt_search` builds the searcher with the suggestions
already in its trials, first and in order. For a *flat* ``param_space`` (every
parameter in every trial), HyperOptSearch wants every key in every point:
``to_raytune_points_to_evaluate(configs, space, fill_inactive=True)`` fills the
inactive ones with their defaults, which ``config_from_raytune`` drops again.
Other searchers (``BasicVariantGenerator``, ``OptunaSearch`` with a
define-by-run space built on :func:`warmstart.service.seeding.suggest_from_space`)
take the active configs as they are.

Ray is an optional dependency (the ``raytune`` extra), imported only inside
the functions that need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
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
    "config_from_raytune",
    "to_raytune_hyperopt_search",
    "to_raytune_points_to_evaluate",
    "to_raytune_space",
]

MAX_PARENT_VALUES = 1000
"""An integer parameter that switches others on may have at most this many values."""

_HYPEROPT_ROOT = "warmstart"
"""The key the whole space hangs under in :func:`to_raytune_hyperopt_search`'s space."""


def to_raytune_points_to_evaluate(
    configs: Iterable[ConfigLike], space: SpaceLike | None = None, *, fill_inactive: bool = False
) -> list[dict[str, ConfigValue]]:
    """Turn suggested configs into Ray Tune's ``points_to_evaluate``.

    Args:
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping, best first.
        space: The search space; when given, every config is validated first.
        fill_inactive: Give every parameter of the space, inactive ones at their
            defaults: what HyperOptSearch needs with a flat ``param_space``
            (otherwise it fails with "GarbageCollected switch ... missing a
            key"). Needs ``space``.

    Returns:
        One plain dict per config, in order.

    Raises:
        InvalidRequestError: If an item has no config, (with ``space``) a config
            is not valid in the space, or ``fill_inactive`` is set without a space.
    """
    if fill_inactive and space is None:
        raise InvalidRequestError("fill_inactive=True needs the space, to know the defaults")
    points = prepare_configs(configs, space)
    if not fill_inactive or space is None:
        return points
    cs = as_configspace(space)
    defaults = canonical_config(
        {p.name: p.default_value for p in cs.values() if not isinstance(p, Constant)}
    )
    return [{**defaults, **point} for point in points]


def to_raytune_space(space: SpaceLike) -> dict[str, Any]:
    """Build a Ray Tune ``param_space`` whose sampled configs hold no inactive parameter.

    Conditional parameters are nested under ``tune.choice`` branches (see the
    module doc); use :func:`config_from_raytune` in the trainable.

    ==========================  =====================================================
    ConfigSpace                 Ray Tune
    ==========================  =====================================================
    UniformFloat (log)          ``tune.uniform`` (``tune.loguniform``)
    UniformInteger (log)        ``tune.randint(lower, upper + 1)`` (``tune.lograndint``)
    Categorical, Ordinal        ``tune.choice`` (weights and order not used)
    Constant                    the value itself
    ==========================  =====================================================

    Args:
        space: The search space.

    Returns:
        The ``param_space`` dict, for ``tune.Tuner(param_space=...)`` or a searcher.

    Raises:
        InvalidRequestError: If a parameter has several parents, a float parent
            switches others on, an integer parent has more than
            :data:`MAX_PARENT_VALUES` values, or a type has no counterpart.
    """
    return _tree(as_configspace(space)).spec()


def config_from_raytune(space: SpaceLike, config: Mapping[str, Any]) -> dict[str, ConfigValue]:
    """Turn what a Ray Tune trainable receives into the active config.

    Works with the nested configs of :func:`to_raytune_space` and
    :func:`to_raytune_hyperopt_search`, and with flat configs that hold every
    parameter (inactive ones are dropped).

    Args:
        space: The search space.
        config: The trainable's ``config``.

    Returns:
        ``{name: value}`` of the active parameters, validated and canonical.

    Raises:
        InvalidRequestError: If the config is not valid in the space, e.g. under
            a forbidden clause.
    """
    cs = as_configspace(space)
    names = set(cs.keys())
    values: dict[str, Any] = {}
    _flatten(config, names, values)
    return optimizer_config(cs, values)


def to_raytune_hyperopt_search(
    space: SpaceLike,
    configs: Iterable[ConfigLike],
    *,
    metric: str | None = None,
    mode: str | None = None,
    **kwargs: Any,
) -> Any:
    """Build a Ray Tune ``HyperOptSearch`` over the nested space, seeded with the configs.

    The searcher holds its own space (give the Tuner no ``param_space``); its
    first trials are the configs, in order, then TPE's. A trainable's config is
    nested under the key ``"warmstart"``: read it with :func:`config_from_raytune`.

    Args:
        space: The search space.
        configs: Plain ``{name: value}`` configs of the active parameters, or
            suggestions with a ``.config`` mapping, best first.
        metric: The metric to optimise, as for ``HyperOptSearch``.
        mode: ``"min"`` or ``"max"``.
        **kwargs: Passed on to ``HyperOptSearch`` (``n_initial_points``,
            ``random_state_seed``, ``gamma``).

    Returns:
        A ``ray.tune.search.hyperopt.HyperOptSearch``.

    Raises:
        InvalidRequestError: If a config is not valid in the space, or the
            space cannot be nested (see :func:`to_raytune_space`).
    """
    from ray.tune.search.hyperopt import HyperOptSearch

    cs = as_configspace(space)
    tree = _tree(cs)
    if _HYPEROPT_ROOT in cs:
        raise InvalidRequestError(
            f"the space has a parameter named {_HYPEROPT_ROOT!r}, the key the searcher's "
            "space hangs under; rename it"
        )
    native = {_HYPEROPT_ROOT: HyperOptSearch.convert_search_space(tree.spec())}
    # Labels and indices as hyperopt stores them; the space's top-level key is not a
    # label, so Ray leaves these points as they are.
    points = [tree.point(config) for config in prepare_configs(configs, cs)]
    return HyperOptSearch(
        native, metric=metric, mode=mode, points_to_evaluate=points or None, **kwargs
    )


def _flatten(config: Mapping[str, Any], names: set[str], out: dict[str, Any]) -> None:
    for key, value in config.items():
        if isinstance(value, Mapping):
            _flatten(value, names, out)
        elif key in names:
            out[key] = value


@dataclass
class _Branch:
    """A group of a parent's values that switch on the same children."""

    values: list[ConfigValue]
    children: _Level


@dataclass
class _Node:
    """A parameter and, when it switches others on, its branches."""

    param: Any
    branches: list[_Branch] = field(default_factory=list)


@dataclass
class _Level:
    """Sibling parameters: the roots of the space, or the children in one branch."""

    nodes: list[_Node]

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for node in self.nodes:
            name = node.param.name
            if not node.branches:
                out[name] = _domain(node.param, None)
                continue
            from ray import tune

            out[name] = tune.choice(
                [
                    {
                        _branch_key(name, i): {
                            name: _domain(node.param, branch.values),
                            **branch.children.spec(),
                        }
                    }
                    for i, branch in enumerate(node.branches)
                ]
            )
        return out

    def point(self, config: Mapping[str, ConfigValue], prefix: str = "") -> dict[str, Any]:
        """The hyperopt labels and values of a config on this level."""
        out: dict[str, Any] = {}
        for node in self.nodes:
            name = node.param.name
            label = f"{prefix}{name}"
            if name not in config or isinstance(node.param, Constant):
                continue
            value = config[name]
            if not node.branches:
                out[label] = _hyperopt_value(node.param, None, value)
                continue
            index = next(i for i, b in enumerate(node.branches) if _has(b.values, value))
            branch = node.branches[index]
            out[label] = index
            inner = f"{label}/{_branch_key(name, index)}/"
            if len(branch.values) > 1:
                out[f"{inner}{name}"] = _hyperopt_value(node.param, branch.values, value)
            out.update(branch.children.point(config, inner))
        return out


def _branch_key(name: str, index: int) -> str:
    return f"{name}#{index}"


def _tree(cs: ConfigurationSpace) -> _Level:
    """The space as nested levels: each conditional parameter under its parent's branches."""
    children: dict[str, list[Any]] = {}
    roots: list[Any] = []
    for param in cs.values():
        parents = cs.parents_of[param.name]
        if not parents:
            roots.append(param)
        elif len(parents) > 1:
            raise InvalidRequestError(
                f"parameter {param.name!r} depends on several parameters "
                f"({', '.join(p.name for p in parents)}); Ray Tune nesting supports one parent"
            )
        else:
            children.setdefault(parents[0].name, []).append(param)
    return _level(cs, roots, children)


def _level(cs: ConfigurationSpace, params: list[Any], children: dict[str, list[Any]]) -> _Level:
    nodes: list[_Node] = []
    for param in params:
        kids = children.get(param.name, [])
        if not kids:
            nodes.append(_Node(param))
            continue
        groups: dict[frozenset[str], list[ConfigValue]] = {}
        for value in _parent_values(param):
            on = frozenset(k.name for k in kids if _switched_on(cs, k, param.name, value))
            groups.setdefault(on, []).append(value)
        branches = [
            _Branch(values, _level(cs, [k for k in kids if k.name in on], children))
            for on, values in groups.items()
        ]
        nodes.append(_Node(param, branches))
    return _Level(nodes)


def _switched_on(cs: ConfigurationSpace, child: Any, parent: str, value: ConfigValue) -> bool:
    conditions = cs.parent_conditions_of[child.name]
    try:
        return all(c.satisfied_by_value({parent: value}) for c in conditions)
    except (KeyError, ValueError, TypeError):
        return False


def _parent_values(param: Any) -> list[ConfigValue]:
    if isinstance(param, (CategoricalHyperparameter, OrdinalHyperparameter, Constant)):
        return choice_values(param, "Ray Tune")
    if isinstance(param, UniformIntegerHyperparameter):
        lower, upper = int(param.lower), int(param.upper)
        if upper - lower + 1 > MAX_PARENT_VALUES:
            raise InvalidRequestError(
                f"parameter {param.name!r} switches others on and has {upper - lower + 1} "
                f"values; Ray Tune nesting supports at most {MAX_PARENT_VALUES}"
            )
        return list(range(lower, upper + 1))
    raise InvalidRequestError(
        f"parameter {param.name!r} ({type(param).__name__}) switches others on; Ray Tune "
        "nesting supports categorical, ordinal and integer parents"
    )


def _domain(param: Any, values: list[ConfigValue] | None) -> Any:
    """The Ray Tune domain of a parameter, or of the given values of it."""
    from ray import tune

    if isinstance(param, UniformFloatHyperparameter):
        low, high = float(param.lower), float(param.upper)
        return tune.loguniform(low, high) if param.log else tune.uniform(low, high)
    if isinstance(param, UniformIntegerHyperparameter):
        if values is None:
            low, high = int(param.lower), int(param.upper)
        elif _contiguous(values):
            low, high = int(values[0]), int(values[-1])
        else:
            return values[0] if len(values) == 1 else tune.choice(values)
        if low == high:
            return low
        if param.log and low > 0:
            return tune.lograndint(low, high + 1)
        return tune.randint(low, high + 1)
    choices = choice_values(param, "Ray Tune") if values is None else values
    return choices[0] if len(choices) == 1 else tune.choice(choices)


def _contiguous(values: list[ConfigValue]) -> bool:
    numbers = [int(v) for v in values]
    return numbers == list(range(numbers[0], numbers[-1] + 1))


def _hyperopt_value(param: Any, values: list[ConfigValue] | None, value: ConfigValue) -> Any:
    """A value as hyperopt stores it for the domain :func:`_domain` gives (choices by index)."""
    domain_values: list[ConfigValue] | None
    if isinstance(param, UniformFloatHyperparameter):
        return value
    if isinstance(param, UniformIntegerHyperparameter):
        if values is None or _contiguous(values):
            return value
        domain_values = values
    else:
        domain_values = choice_values(param, "Ray Tune") if values is None else values
    for index, choice in enumerate(domain_values):
        if type(choice) is type(value) and choice == value:
            return index
    raise InvalidRequestError(f"parameter {param.name!r}: {value!r} is not one of {domain_values}")


def _has(values: list[ConfigValue], value: ConfigValue) -> bool:
    return any(type(v) is type(value) and v == value for v in values)
