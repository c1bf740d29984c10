"""Exact JSON forms of live results' values: floats (NaN and infinities too) and free values.

Standard JSON has no NaN or infinity, and live results hold NaN wherever an
evaluation failed. A float is written as a JSON number (Python writes the
shortest text that reads back to the same float, so it round-trips exactly) or,
when not finite, as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``;
the reader knows which fields are floats. In a free value (FLAML's
hyperparameters: any JSON-like value) a non-finite float is the object
``{"$float": "NaN"}``, so it cannot be confused with a string. JSON keeps
``bool``, ``int``, ``float`` and ``str`` apart, so config values keep their type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from warmstart.metamodel.errors import InvalidRequestError

__all__ = ["float_from_json", "float_to_json", "value_from_json", "value_to_json"]

_NON_FINITE = ("NaN", "Infinity", "-Infinity")
_FLOAT_TAG = "$float"


def float_to_json(value: float) -> float | str:
    """A float as exact JSON: the number, or ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``."""
    number = float(value)
    if math.isfinite(number):
        return number
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def float_from_json(value: object, what: str) -> float:
    """Read back what :func:`float_to_json` wrote.

    Args:
        value: The JSON value.
        what: The field, for the error.

    Raises:
        InvalidRequestError: Not a number nor one of the non-finite names.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value in _NON_FINITE:
        return float(value)
    raise InvalidRequestError(f"{what} must be a number or one of {_NON_FINITE}, got {value!r}")


def value_to_json(value: Any) -> Any:
    """A free value (numbers, strings, lists, string-keyed mappings) as exact JSON.

    NumPy scalars become Python numbers, tuples become lists and a non-finite
    float becomes ``{"$float": NAME}``.

    Raises:
        InvalidRequestError: A value JSON cannot hold (a mapping with a non-string key,
            an object).
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT_TAG: float_to_json(value)}
    if isinstance(value, list | tuple):
        return [value_to_json(v) for v in value]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise InvalidRequestError(f"a mapping's keys must be strings, got {list(value)!r}")
        return {k: value_to_json(v) for k, v in value.items()}
    raise InvalidRequestError(f"{type(value).__name__} values cannot be written as JSON")


def value_from_json(value: Any) -> Any:
    """Read back what :func:`value_to_json` wrote."""
    if isinstance(value, list):
        return [value_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {_FLOAT_TAG}:
            return float_from_json(value[_FLOAT_TAG], _FLOAT_TAG)
        return {k: value_from_json(v) for k, v in value.items()}
    return value
