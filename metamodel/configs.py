"""Configs as data: canonical values, canonical JSON and content hashes.

A config is a plain ``{name: value}`` mapping of ``int | float | str | bool``. Its
canonical JSON (sorted keys, floats at 12 significant digits) is what is hashed, so
float noise from a round trip does not make a new config. Kept apart from
:mod:`warmstart.metamodel.spaces` (which re-exports these) because it needs no ConfigSpace or
SciPy: the store and the command line hash configs without loading them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping

import numpy as np

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import ConfigValue

__all__ = [
    "canonical_config",
    "canonical_value",
    "config_hash",
    "config_json",
    "hash_config_json",
]

_SIGNIFICANT_DIGITS = 12


def canonical_value(name: str, value: object) -> ConfigValue:
    """Return one parameter's value as a plain Python value (floats at 12 significant digits).

    Raises:
        InvalidRequestError: If the value is not a finite int/float/str/bool.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidRequestError(f"parameter {name!r} must be finite, got {number}")
        if number == 0.0:
            return 0.0
        return float(f"{number:.{_SIGNIFICANT_DIGITS}g}")
    if isinstance(value, (str, np.str_)):
        return str(value)
    raise InvalidRequestError(
        f"parameter {name!r} must be an int, float, str or bool, got {type(value).__name__}"
    )


def canonical_config(config: Mapping[str, object]) -> dict[str, ConfigValue]:
    """Return a config with plain Python values, sorted by name.

    Raises:
        InvalidRequestError: If a value is not a finite int/float/str/bool.
    """
    return {str(k): canonical_value(str(k), config[k]) for k in sorted(config)}


def config_json(config: Mapping[str, object]) -> str:
    """Return the canonical JSON text of a config."""
    return json.dumps(canonical_config(config), sort_keys=True, separators=(",", ":"))


def config_hash(config: Mapping[str, object]) -> str:
    """Return the content hash (hex, 32 chars) of a config's canonical JSON."""
    return hash_config_json(config_json(config))


def hash_config_json(text: str) -> str:
    """Return the config hash of text that is already a config's canonical JSON."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]
