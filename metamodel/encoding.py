"""Configs as numeric vectors for the surrogate, and back.

One column per hyperparameter, in the space's order. Numbers are scaled to
[0, 1] on their own scale (log where the space says log), categoricals become
their choice index (LightGBM treats those columns as categorical), booleans
0/1, and a parameter that is inactive under the config's other values is NaN,
so "not applicable" is never confused with a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import active_parameters, canonical_config, validate_config
from warmstart.metamodel.types import ConfigValue

__all__ = ["ConfigEncoder"]


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str  # "float", "int", "choice", "constant"
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[ConfigValue, ...] = ()


class ConfigEncoder:
    """Encodes configs of one search space; decodes vectors into valid configs."""

    def __init__(self, space: ConfigurationSpace) -> None:
        self.space = space
        columns = []
        for hp in space.values():
            if isinstance(hp, (UniformFloatHyperparameter, UniformIntegerHyperparameter)):
                kind = "int" if isinstance(hp, UniformIntegerHyperparameter) else "float"
                columns.append(
                    _Column(hp.name, kind, float(hp.lower), float(hp.upper), bool(hp.log))
                )
            elif isinstance(hp, CategoricalHyperparameter):
                choices = tuple(canonical_config({"v": c})["v"] for c in hp.choices)
                columns.append(_Column(hp.name, "choice", choices=choices))
            elif isinstance(hp, OrdinalHyperparameter):
                choices = tuple(canonical_config({"v": c})["v"] for c in hp.sequence)
                columns.append(_Column(hp.name, "choice", choices=choices))
            elif isinstance(hp, Constant):
                value = canonical_config({"v": hp.value})["v"]
                columns.append(_Column(hp.name, "constant", choices=(value,)))
            else:  # pragma: no cover - warmstart spaces use only the types above
                raise InvalidRequestError(f"cannot encode parameter type {type(hp).__name__}")
        self._columns = tuple(columns)
        self._float_bounds = {c.name: (c.low, c.high) for c in columns if c.kind == "float"}
        # What a NaN (inactive) entry decodes to: the default where it is active, else a bound.
        default = canonical_config(dict(space.get_default_configuration()))
        self._defaults: dict[str, ConfigValue] = {
            c.name: default[c.name] if c.name in default else self._first(c) for c in columns
        }

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in the space's order."""
        return tuple(c.name for c in self._columns)

    @property
    def categorical(self) -> tuple[int, ...]:
        """Indices of the columns holding choice indices (categorical features)."""
        return tuple(i for i, c in enumerate(self._columns) if c.kind == "choice")

    @property
    def n_choices(self) -> tuple[int, ...]:
        """Per column, how many choices it has (1 for a number or a constant)."""
        return tuple(len(c.choices) if c.kind == "choice" else 1 for c in self._columns)

    def _scale(self, column: _Column, value: float) -> float:
        low, high = column.low, column.high
        if column.log:
            return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
        return (value - low) / (high - low) if high > low else 0.0

    def _unscale(self, column: _Column, unit: float) -> float:
        unit = min(max(unit, 0.0), 1.0)
        low, high = column.low, column.high
        if column.log:
            value = math.exp(math.log(low) + unit * (math.log(high) - math.log(low)))
        else:
            value = low + unit * (high - low)
        # exp(log(x)) and low + 1 * (high - low) can land an ulp outside the range.
        return min(max(value, low), high)

    def encode(self, configs: Sequence[Mapping[str, ConfigValue]]) -> np.ndarray:
        """Return an ``(n, len(names))`` float array; inactive parameters are NaN."""
        out = np.full((len(configs), len(self._columns)), np.nan)
        for row, config in enumerate(configs):
            for col, column in enumerate(self._columns):
                if column.name not in config:
                    continue
                value = config[column.name]
                if column.kind in ("float", "int"):
                    out[row, col] = self._scale(column, float(value))
                elif column.kind == "choice":
                    try:
                        out[row, col] = column.choices.index(value)
                    except ValueError:
                        raise InvalidRequestError(
                            f"parameter {column.name!r} must be one of {list(column.choices)}, "
                            f"got {value!r}"
                        ) from None
                else:
                    out[row, col] = 0.0
        return out

    def decode(
        self, vectors: np.ndarray, *, drop_invalid: bool = False
    ) -> list[dict[str, ConfigValue]]:
        """Return the valid configs nearest to encoded vectors.

        NaN entries take the parameter's default; parameters that end up
        inactive are dropped, numbers are clipped into range and integers rounded.

        Args:
            vectors: Encoded configs, one per row.
            drop_invalid: Leave out a vector whose nearest config the space forbids
                (instead of raising), e.g. when decoding random perturbations.

        Raises:
            InvalidRequestError: Wrong width, or (without ``drop_invalid``) a
                forbidden config.
        """
        matrix = np.atleast_2d(np.asarray(vectors, dtype=float))
        if matrix.shape[1] != len(self._columns):
            raise InvalidRequestError(
                f"vectors must have {len(self._columns)} columns, got {matrix.shape[1]}"
            )
        out = []
        for vector in matrix:
            values: dict[str, ConfigValue] = {}
            for column, entry in zip(self._columns, vector, strict=True):
                if np.isnan(entry):
                    values[column.name] = self._defaults[column.name]
                elif column.kind == "float":
                    values[column.name] = self._unscale(column, float(entry))
                elif column.kind == "int":
                    number = round(self._unscale(column, float(entry)))
                    values[column.name] = int(min(max(number, column.low), column.high))
                elif column.kind == "choice":
                    index = int(min(max(round(float(entry)), 0), len(column.choices) - 1))
                    values[column.name] = column.choices[index]
                else:
                    values[column.name] = column.choices[0]
            active = active_parameters(self.space, values)
            config = canonical_config({name: values[name] for name in active})
            for name, (low, high) in self._float_bounds.items():
                if name in config:
                    # Rounding to canonical digits may step past a bound: snap back, as
                    # validation does.
                    config[name] = min(max(float(config[name]), low), high)
            if self.space.forbidden_clauses:
                try:
                    config = validate_config(self.space, config)
                except InvalidRequestError:
                    if drop_invalid:
                        continue
                    raise
            out.append(config)
        return out

    def _first(self, column: _Column) -> ConfigValue:
        if column.kind == "int":
            return int(column.low)
        if column.kind == "float":
            return column.low
        return column.choices[0]
