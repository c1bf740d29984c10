"""Search spaces: canonical JSON and hashes, config validation and sampling.

A search space is a ConfigSpace ``ConfigurationSpace``. It is stored as
canonical JSON and versioned by the hash of that text, so the same space always
gets the same ``space_id`` and any change to it gets a new one. Configs are
plain ``{name: value}`` mappings of ``int | float | str | bool``; their
canonical JSON (sorted keys, floats at 12 significant digits) is what is hashed,
so float noise from a round trip does not make a new config (that part is
:mod:`warmstart.metamodel.configs`, re-exported here, which needs no ConfigSpace).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.util import deactivate_inactive_hyperparameters
from scipy.stats import qmc

from warmstart.metamodel.configs import (
    _SIGNIFICANT_DIGITS,
    canonical_config,
    canonical_value,
    config_hash,
    config_json,
    hash_config_json,
)
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import ConfigValue, SearchSpace

__all__ = [
    "LOCAL_SCALE",
    "SamplerName",
    "active_parameters",
    "canonical_config",
    "config_hash",
    "config_json",
    "default_config",
    "fill_defaults",
    "hash_config_json",
    "listed_choices",
    "load_configspace",
    "make_search_space",
    "parse_search_space",
    "sample_configs",
    "space_hash",
    "validate_config",
]

SamplerName = Literal["random", "sobol", "grid", "local"]

LOCAL_SCALE = 0.25
"""The ``local`` sampler's default half-width, as a fraction of each parameter's range."""

# Relative slack on numeric bounds, so a value that went through a log/exp
# round trip or 12-digit rounding is not rejected for 1e-15 of overshoot.
_BOUND_SLACK = 1e-9


def space_hash(definition: Mapping[str, Any]) -> str:
    """Return the content hash (hex, 16 chars) of a serialized ConfigSpace dict."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_search_space(name: str, space: ConfigurationSpace) -> SearchSpace:
    """Wrap a ConfigSpace object as a versioned :class:`SearchSpace`.

    Args:
        name: The space's name for people, e.g. ``"lightgbm"``.
        space: The ConfigSpace definition.

    Returns:
        The search space with canonical JSON and its content hash as ``space_id``.
    """
    if not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidRequestError(
            f"space name must be non-empty letters, digits, '_', '-' or '.', got {name!r}"
        )
    serialized = space.to_serialized_dict()
    serialized["name"] = name
    definition = json.dumps(serialized, sort_keys=True, separators=(",", ":"))
    return SearchSpace(space_id=space_hash(serialized), name=name, definition=definition)


def parse_search_space(name: str, definition: str) -> SearchSpace:
    """Parse ConfigSpace JSON text from outside (a file, a client) into a space.

    Raises:
        InvalidRequestError: If the text is not a valid ConfigSpace definition.
    """
    try:
        serialized = json.loads(definition)
        space = ConfigurationSpace.from_serialized_dict(serialized)
    except Exception as exc:  # ConfigSpace raises many kinds on bad input
        raise InvalidRequestError(
            f"space {name!r}: not a valid ConfigSpace JSON definition ({exc})"
        ) from None
    return make_search_space(name, space)


def load_configspace(space: SearchSpace, *, fresh: bool = False) -> ConfigurationSpace:
    """Return the ConfigSpace object of a stored space.

    The object is cached per definition and shared: treat it as read-only.
    Pass ``fresh=True`` for a private copy that may be changed.
    """
    if fresh:
        return ConfigurationSpace.from_serialized_dict(json.loads(space.definition))
    return _load(space.definition)


@functools.lru_cache(maxsize=256)
def _load(definition: str) -> ConfigurationSpace:
    return ConfigurationSpace.from_serialized_dict(json.loads(definition))


def _describe_allowed(hp: Any) -> str:
    if isinstance(hp, (UniformFloatHyperparameter, UniformIntegerHyperparameter)):
        kind = "an integer" if isinstance(hp, UniformIntegerHyperparameter) else "a number"
        scale = ", log scale" if hp.log else ""
        return f"{kind} in [{hp.lower}, {hp.upper}]{scale}"
    if isinstance(hp, CategoricalHyperparameter):
        return "one of " + ", ".join(repr(canonical_value(hp.name, c)) for c in hp.choices)
    if isinstance(hp, OrdinalHyperparameter):
        return "one of " + ", ".join(repr(canonical_value(hp.name, c)) for c in hp.sequence)
    if isinstance(hp, Constant):
        return f"exactly {canonical_value(hp.name, hp.value)!r}"
    return f"a legal value of {type(hp).__name__}"


def listed_choices(hp: Any) -> Sequence[Any] | None:
    """The values of a categorical, ordinal or constant hyperparameter; ``None`` for others."""
    if isinstance(hp, CategoricalHyperparameter):
        return hp.choices
    if isinstance(hp, OrdinalHyperparameter):
        return hp.sequence
    if isinstance(hp, Constant):
        return [hp.value]
    return None


def _check_value(hp: Any, value: ConfigValue) -> ConfigValue:
    """Check one value against its hyperparameter, returning it in the right type."""
    name = hp.name
    if isinstance(hp, (UniformFloatHyperparameter, UniformIntegerHyperparameter)):
        if isinstance(value, (bool, str)):
            raise InvalidRequestError(
                f"parameter {name!r} must be {_describe_allowed(hp)}, got {value!r}"
            )
        number = float(value)
        is_int = isinstance(hp, UniformIntegerHyperparameter)
        if is_int and not number.is_integer():
            raise InvalidRequestError(
                f"parameter {name!r} must be {_describe_allowed(hp)}, got {value!r}"
            )
        low, high = float(hp.lower), float(hp.upper)
        slack = _BOUND_SLACK * max(abs(low), abs(high), 1.0)
        if not low - slack <= number <= high + slack:
            raise InvalidRequestError(
                f"parameter {name!r} must be {_describe_allowed(hp)}, got {value!r}"
            )
        clipped = min(max(number, low), high)
        return round(clipped) if is_int else clipped
    choices = listed_choices(hp)
    if choices is None:  # pragma: no cover - other ConfigSpace types are not used in warmstart
        raise InvalidRequestError(f"parameter {name!r}: unsupported type {type(hp).__name__}")
    for choice in choices:
        canonical = canonical_value(name, choice)
        # bool is an int subclass: compare types too so True never equals 1.
        if type(canonical) is type(value) and canonical == value:
            return canonical
        if (
            isinstance(canonical, float)
            and isinstance(value, int)
            and not isinstance(value, bool)
            and canonical == value
        ):
            return canonical
    raise InvalidRequestError(f"parameter {name!r} must be {_describe_allowed(hp)}, got {value!r}")


_BAD: Any = object()  # a value the prepared checks do not pass (the full check decides)


def _plain(value: object) -> object:
    """:func:`canonical_value` of a plain ``float``, ``int``, ``str`` or ``bool``; ``_BAD`` for
    anything else (a subclass, a numpy scalar, a value it would refuse)."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            return _BAD
        return 0.0 if value == 0.0 else float(f"{value:.{_SIGNIFICANT_DIGITS}g}")
    if kind is int or kind is str or kind is bool:
        return value
    return _BAD


def _value_check(hp: Any) -> Callable[[object], object]:
    """A function giving a value of ``hp`` as :func:`_check_value` returns it for a legal
    value, and ``_BAD`` for any other."""
    if isinstance(hp, (UniformFloatHyperparameter, UniformIntegerHyperparameter)):
        is_int = isinstance(hp, UniformIntegerHyperparameter)
        low, high = float(hp.lower), float(hp.upper)
        slack = _BOUND_SLACK * max(abs(low), abs(high), 1.0)
        lowest, highest = low - slack, high + slack

        def number(value: object) -> object:
            kind = type(value)
            if kind is float:
                if not math.isfinite(value):  # type: ignore[arg-type]
                    return _BAD
                x = 0.0 if value == 0.0 else float(f"{value:.{_SIGNIFICANT_DIGITS}g}")
            elif kind is int:
                x = float(value)  # type: ignore[arg-type]
            else:
                return _BAD
            if not lowest <= x <= highest:
                return _BAD
            if is_int:
                return round(min(max(x, low), high)) if x.is_integer() else _BAD
            return min(max(x, low), high)

        return number
    table: dict[tuple[type, object], ConfigValue] = {}
    try:
        for listed in listed_choices(hp) or ():
            canonical = canonical_value(hp.name, listed)
            table.setdefault((type(canonical), canonical), canonical)
            # _check_value takes an int for an equal float choice (not a bool).
            if isinstance(canonical, float) and canonical.is_integer():
                table.setdefault((int, int(canonical)), canonical)
    except (InvalidRequestError, OverflowError):  # an odd choice: leave it to the full check
        table = {}

    def choice(value: object) -> object:
        plain = _plain(value)
        return _BAD if plain is _BAD else table.get((type(plain), plain), _BAD)

    return choice


def _shape(space: ConfigurationSpace) -> tuple[int, int, int]:
    """What changes when a space is added to after its checks were prepared."""
    return len(space), len(space.conditions), len(space.forbidden_clauses)


class _Checks:
    """What :func:`validate_config` checks, prepared once per space for valid configs.

    A config that passes every check here gets the same answer as the full check, in a
    tenth of the time: each parameter's type, range or choices are looked up in a table
    made once, and which parameters are active is worked out by ConfigSpace's conditions
    once per combination of the values they depend on. A config that fails any check
    goes the full way, which names its problem.
    """

    _MAX_ACTIVE_SETS = 4096  # combinations of the conditions' parents' values kept

    def __init__(self, space: ConfigurationSpace) -> None:
        self.shape = _shape(space)
        self.value_checks: dict[str, Callable[[object], object]] = {
            name: _value_check(hp) for name, hp in space.items()
        }
        self.parents = sorted({p.name for name in space for p in space.parents_of[name]})
        self.forbidden = list(space.forbidden_clauses)
        self.active_sets: dict[tuple[object, ...], frozenset[str]] = {}

    def check(
        self, space: ConfigurationSpace, config: Mapping[str, object]
    ) -> dict[str, ConfigValue] | None:
        """The config in canonical form if it is valid, else ``None`` (not known valid)."""
        value_checks = self.value_checks
        checked: dict[str, ConfigValue] = {}
        for name in sorted(config):  # a non-str or unknown name fails the lookup
            check = value_checks.get(name) if type(name) is str else None
            if check is None:
                return None
            value = check(config[name])
            if value is _BAD:
                return None
            checked[name] = value  # type: ignore[assignment]
        key = tuple((type(v), v) for v in (checked.get(p, _BAD) for p in self.parents))
        active = self.active_sets.get(key)
        if active is None:
            active = frozenset(active_parameters(space, checked))
            if len(self.active_sets) >= self._MAX_ACTIVE_SETS:
                self.active_sets.clear()
            self.active_sets[key] = active
        if len(active) != len(checked) or not active.issuperset(checked):
            return None
        for clause in self.forbidden:
            try:
                if clause.is_forbidden_value(checked):
                    return None
            except Exception:  # the full check decides
                return None
        return checked


_prepared: dict[int, tuple[weakref.ref[ConfigurationSpace], _Checks]] = {}
_prepared_lock = threading.Lock()


def _forget(key: int, _: object, held: dict[int, Any] = _prepared) -> None:
    held.pop(key, None)  # the default argument outlives the module at exit


def _checks_of(space: ConfigurationSpace) -> _Checks:
    """The prepared checks of a space, made on first use and kept while it lives."""
    key = id(space)
    held = _prepared.get(key)
    if held is not None and held[0]() is space and held[1].shape == _shape(space):
        return held[1]
    checks = _Checks(space)
    with _prepared_lock:
        _prepared[key] = (weakref.ref(space, functools.partial(_forget, key)), checks)
    return checks


def validate_config(
    space: ConfigurationSpace, config: Mapping[str, object]
) -> dict[str, ConfigValue]:
    """Check a config against a space and return its canonical form.

    Every problem is named: unknown parameters (with the allowed names),
    missing active parameters, values set on inactive conditional parameters,
    wrong types, out-of-range numbers and illegal choices, forbidden combinations.

    A valid config is recognised by checks prepared once per space (:class:`_Checks`);
    any other goes the full way below, which names its problem.

    Raises:
        InvalidRequestError: If the config is not valid in the space.
    """
    known_valid = _checks_of(space).check(space, config)
    if known_valid is not None:
        return known_valid
    return _validate_fully(space, config)


def _validate_fully(
    space: ConfigurationSpace, config: Mapping[str, object]
) -> dict[str, ConfigValue]:
    """:func:`validate_config` without the prepared checks: each problem named."""
    values = canonical_config(config)
    names = list(space.keys())
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InvalidRequestError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"this space has: {', '.join(names)}"
        )
    checked: dict[str, ConfigValue] = {}
    for name in names:
        if name in values:
            checked[name] = _check_value(space[name], values[name])
    active = active_parameters(space, checked)
    inactive_set = sorted(n for n in checked if n not in active)
    if inactive_set:
        parents = {n: [p.name for p in space.parents_of[n]] for n in inactive_set}
        detail = "; ".join(
            f"{n!r} (depends on {', '.join(map(repr, ps)) or 'its conditions'})"
            for n, ps in parents.items()
        )
        raise InvalidRequestError(
            f"parameter(s) set that are inactive under this config's other values: {detail}"
        )
    missing = sorted(n for n in active if n not in checked)
    if missing:
        raise InvalidRequestError(f"active parameter(s) missing: {', '.join(map(repr, missing))}")
    for clause in space.forbidden_clauses:
        try:
            forbidden = clause.is_forbidden_value(checked)
        except Exception:  # pragma: no cover - clause on inactive params
            forbidden = False
        if forbidden:
            raise InvalidRequestError(f"config is forbidden by the space's clause {clause}")
    return {k: checked[k] for k in sorted(checked)}


def active_parameters(space: ConfigurationSpace, values: Mapping[str, ConfigValue]) -> set[str]:
    """Return the names of the parameters that are active given ``values``.

    A parameter is active when every condition on it holds for the values of its
    parents and those parents are active themselves (walked in topological order).
    """
    active: set[str] = set()
    for hp in space.values():
        conditions = space.parent_conditions_of[hp.name]
        if not conditions:
            active.add(hp.name)
            continue
        parents = [p.name for p in space.parents_of[hp.name]]
        if any(p not in active or p not in values for p in parents):
            continue
        try:
            holds = all(c.satisfied_by_value(dict(values)) for c in conditions)
        except (KeyError, ValueError, TypeError):
            holds = False
        if holds:
            active.add(hp.name)
    return active


def default_config(space: ConfigurationSpace) -> dict[str, ConfigValue]:
    """Return the space's default config in canonical form."""
    return canonical_config(dict(space.get_default_configuration()))


def fill_defaults(
    space: ConfigurationSpace, config: Mapping[str, object]
) -> tuple[dict[str, object], tuple[str, ...]]:
    """Give each active parameter a config leaves out the space's default value.

    A config that lists only what it changes from a library's defaults (the way
    foreign tables such as TabRepo's store them) becomes a whole config. A filled
    parameter can activate conditional ones, which are filled in turn; given values
    are kept as they are (:func:`validate_config` still checks them).

    Returns:
        The config with the defaults added, and the names of the parameters filled.
    """
    values: dict[str, object] = dict(config)
    filled: list[str] = []
    default = space.get_default_configuration()
    known = set(space.keys())
    while True:
        present = {k: v for k, v in canonical_config(values).items() if k in known}
        missing = sorted(n for n in active_parameters(space, present) if n not in values)
        if not missing:
            return values, tuple(filled)
        for name in missing:
            # An inactive-by-default conditional parameter has no default in the default
            # config: it takes the parameter's own default.
            value = default.get(name, space[name].default_value)
            values[name] = canonical_value(name, value)
            filled.append(name)


def _from_unit(hp: Any, u: float) -> ConfigValue:
    """Map a point of [0, 1) to a value of ``hp`` (log scale where it says so)."""
    u = min(max(u, 0.0), 1.0 - 1e-12)
    if isinstance(hp, UniformFloatHyperparameter):
        low, high = float(hp.lower), float(hp.upper)
        if hp.log:
            return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
        return low + u * (high - low)
    if isinstance(hp, UniformIntegerHyperparameter):
        low, high = int(hp.lower), int(hp.upper)
        if hp.log:
            value = math.exp(math.log(low) + u * (math.log(high + 1) - math.log(low)))
            return min(math.floor(value), high)
        return low + min(math.floor(u * (high - low + 1)), high - low)
    if isinstance(hp, CategoricalHyperparameter):
        return canonical_value(hp.name, hp.choices[int(u * len(hp.choices))])
    if isinstance(hp, OrdinalHyperparameter):
        return canonical_value(hp.name, hp.sequence[int(u * len(hp.sequence))])
    if isinstance(hp, Constant):
        return canonical_value(hp.name, hp.value)
    raise InvalidRequestError(f"parameter {hp.name!r}: unsupported type {type(hp).__name__}")


def _to_unit(hp: Any, value: ConfigValue) -> float:
    """The middle of the points of [0, 1) that :func:`_from_unit` maps to ``value``."""
    if isinstance(hp, (UniformFloatHyperparameter, UniformIntegerHyperparameter)):
        integer = isinstance(hp, UniformIntegerHyperparameter)
        low, high = float(hp.lower), float(hp.upper) + (1.0 if integer else 0.0)
        x = float(value) + (0.5 if integer else 0.0)  # an integer owns [v, v + 1)
        if hp.log:
            return (math.log(x) - math.log(low)) / (math.log(high) - math.log(low))
        return (x - low) / (high - low)
    if isinstance(hp, CategoricalHyperparameter):
        return (list(hp.choices).index(value) + 0.5) / len(hp.choices)
    if isinstance(hp, OrdinalHyperparameter):
        return (list(hp.sequence).index(value) + 0.5) / len(hp.sequence)
    return 0.5  # a constant has one value wherever the point lies


def _default_point(space: ConfigurationSpace) -> np.ndarray:
    """The default config as a point of the unit cube, inactive parameters at their own
    defaults (so a local step can switch them on at their default values)."""
    default = default_config(space)
    return np.array([_to_unit(hp, default.get(hp.name, hp.default_value)) for hp in space.values()])


def _unit_to_config(
    space: ConfigurationSpace, point: Sequence[float]
) -> dict[str, ConfigValue] | None:
    full = {hp.name: _from_unit(hp, float(u)) for hp, u in zip(space.values(), point, strict=True)}
    try:
        config = deactivate_inactive_hyperparameters(full, space)
        return validate_config(space, dict(config))
    except Exception:
        return None  # forbidden combination: the caller draws another point


def _grid(space: ConfigurationSpace, n: int) -> list[dict[str, ConfigValue]]:
    numeric = [
        hp
        for hp in space.values()
        if isinstance(hp, (UniformFloatHyperparameter, UniformIntegerHyperparameter))
    ]
    steps = 2
    while True:
        candidates = 1
        for hp in space.values():
            if isinstance(hp, CategoricalHyperparameter):
                candidates *= len(hp.choices)
            elif isinstance(hp, OrdinalHyperparameter):
                candidates *= len(hp.sequence)
        candidates *= (steps + 1) ** len(numeric)
        if candidates >= n or steps > 64:
            break
        steps += 1
    from ConfigSpace.util import generate_grid

    grid = generate_grid(space, {hp.name: steps for hp in numeric})
    return [validate_config(space, dict(c)) for c in grid]


def sample_configs(
    space: ConfigurationSpace,
    n: int,
    *,
    method: SamplerName = "sobol",
    seed: int = 0,
    include_default: bool = True,
    scale: float = LOCAL_SCALE,
) -> list[dict[str, ConfigValue]]:
    """Draw ``n`` distinct valid configs from a space.

    Args:
        space: The search space.
        n: How many configs, the default included when ``include_default``.
        method: ``"random"`` (uniform on each parameter's scale), ``"sobol"``
            (scrambled Sobol points on the unit cube, mapped per parameter),
            ``"grid"`` (an evenly spaced grid, truncated to ``n`` in a seeded order) or
            ``"local"`` (scrambled Sobol points in a box around the library default:
            each parameter within ``scale`` of its range of the default's value, on its
            own scale, clipped to the range; parameters the default leaves inactive
            start from their own defaults).
        seed: Seed for the sampler; the same seed gives the same configs.
        include_default: Put the library default first.
        scale: The ``local`` box's half-width, a fraction of each range in (0, 1].

    Returns:
        Canonical configs, each valid in the space, without duplicates.
    """
    if n < 0:
        raise InvalidRequestError(f"the number of configs must be >= 0, got {n}")
    if method not in ("random", "sobol", "grid", "local"):
        raise InvalidRequestError(
            f"sampler must be 'random', 'sobol', 'grid' or 'local', got {method!r}"
        )
    if not 0.0 < scale <= 1.0:
        raise InvalidRequestError(f"the local sampler's scale must be in (0, 1], got {scale!r}")
    out: list[dict[str, ConfigValue]] = []
    seen: set[str] = set()

    def take(configs: Iterable[dict[str, ConfigValue] | None]) -> None:
        for config in configs:
            if len(out) >= n:
                return
            if config is None:
                continue
            key = config_hash(config)
            if key not in seen:
                seen.add(key)
                out.append(config)

    if include_default and n > 0:
        take([default_config(space)])
    dims = len(space)
    rng = np.random.default_rng(seed)
    if method == "grid":
        grid = _grid(space, n)
        order = rng.permutation(len(grid))
        take(grid[i] for i in order)
        return out
    if dims == 0:
        take([{}])
        return out
    sobol = qmc.Sobol(d=dims, scramble=True, seed=seed) if method != "random" else None
    centre = _default_point(space) if method == "local" else None
    attempts = 0
    while len(out) < n and attempts < 50:
        want = max(n - len(out), 1)
        if sobol is not None:
            batch = 1 << max(math.ceil(math.log2(want)), 1)
            points = sobol.random(batch)
            if centre is not None:
                points = np.clip(centre + scale * (2.0 * points - 1.0), 0.0, 1.0)
        else:
            points = rng.random((want, dims))
        take(_unit_to_config(space, p) for p in points)
        attempts += 1
    return out
