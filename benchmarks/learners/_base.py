"""The learner contract: a named search space, its library defaults, and an estimator factory.

A :class:`Learner` is stateless: every method builds what it returns afresh, so
one instance can serve many processes and threads. Implementations live in the
private modules of this package and are looked up by name through
:func:`warmstart.benchmarks.learners.get_learner`.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from ConfigSpace import ConfigurationSpace

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import validate_config
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = ["ALL_TASK_TYPES", "CLASSIFICATION", "Learner"]

ALL_TASK_TYPES: frozenset[TaskType] = frozenset(TaskType)
CLASSIFICATION: frozenset[TaskType] = frozenset({TaskType.BINARY, TaskType.MULTICLASS})


class Learner(ABC):
    """A learning algorithm with a ConfigSpace search space and its library defaults.

    Subclasses set the class attributes and implement :meth:`search_space` and
    :meth:`_build`; :meth:`make_estimator` validates before it builds.

    Attributes:
        name: The search space's name, e.g. ``"lightgbm"``.
        task_types: The task types the learner supports.
        deterministic: Whether the same config, data, seed and ``n_threads``
            always give the same predictions.
    """

    __slots__ = ()

    name: ClassVar[str]
    task_types: ClassVar[frozenset[TaskType]]
    deterministic: ClassVar[bool] = True

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"learner {self.name!r} is immutable; cannot set {key!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    @abstractmethod
    def search_space(self) -> ConfigurationSpace:
        """Build the learner's search space.

        Returns:
            A new ConfigSpace object on every call, with the same content every
            time (so its ``space_id`` is stable across calls and processes). Its
            default configuration is the library's own defaults.
        """

    def default_config(self) -> dict[str, ConfigValue]:
        """Return the library's default hyperparameters, expressed in the space.

        Returns:
            The canonical default config; it validates in :meth:`search_space`.
        """
        space = self.search_space()
        return validate_config(space, dict(space.get_default_configuration()))

    def make_estimator(
        self,
        config: Mapping[str, ConfigValue],
        task_type: TaskType | str,
        seed: int,
        n_threads: int = 1,
    ) -> Any:
        """Build an unfitted scikit-learn estimator (preprocessing + model).

        The estimator accepts a pandas DataFrame with numeric and categorical
        (object, string or category dtype) columns holding NaN or ±inf, and any
        class labels (classification) or floats (regression). Classifiers
        provide ``predict_proba``.

        Args:
            config: Hyperparameters, valid in :meth:`search_space`.
            task_type: The task type to build for; must be in :attr:`task_types`.
            seed: Random seed of every random choice in fitting.
            n_threads: Threads the model may use (default 1).

        Returns:
            An unfitted :class:`sklearn.pipeline.Pipeline`.

        Raises:
            InvalidRequestError: If the config is not valid in the space, the
                task type is unsupported, or ``n_threads`` is below 1.
        """
        try:
            checked = validate_config(self.search_space(), config)
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"learner {self.name!r}: {exc}") from None
        kind = self._check_task_type(task_type)
        threads = _integer(n_threads, "n_threads")
        if threads < 1:
            raise InvalidRequestError(f"n_threads must be an integer >= 1, got {n_threads!r}")
        return self._build(checked, kind, _integer(seed, "seed"), threads)

    @abstractmethod
    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        """Build the estimator from a validated config (inactive parameters absent)."""

    def _check_task_type(self, task_type: TaskType | str) -> TaskType:
        allowed = ", ".join(sorted(t.value for t in self.task_types))
        try:
            kind = TaskType(str(task_type))
        except ValueError:
            raise InvalidRequestError(
                f"learner {self.name!r}: unknown task type {task_type!r}; it supports: {allowed}"
            ) from None
        if kind not in self.task_types:
            raise InvalidRequestError(
                f"learner {self.name!r} does not support {kind.value!r} tasks; "
                f"it supports: {allowed}"
            )
        return kind


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidRequestError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidRequestError(f"{what} must be an integer, got {value!r}") from None


def as_int(config: Mapping[str, ConfigValue], name: str) -> int:
    """Return a validated config value as ``int``."""
    return int(config[name])


def as_float(config: Mapping[str, ConfigValue], name: str) -> float:
    """Return a validated config value as ``float``."""
    return float(config[name])


def as_str(config: Mapping[str, ConfigValue], name: str) -> str:
    """Return a validated config value as ``str``."""
    return str(config[name])


def as_bool(config: Mapping[str, ConfigValue], name: str) -> bool:
    """Return a validated boolean config value (never coerces a string)."""
    value = config[name]
    if not isinstance(value, bool):
        raise InvalidRequestError(f"parameter {name!r} must be a bool, got {value!r}")
    return value


def optional_float(config: Mapping[str, ConfigValue], flag: str, name: str) -> float:
    """Return ``config[name]`` when the boolean ``config[flag]`` is on, else 0.0.

    This is how a parameter whose library default is 0 (off) but whose useful
    values span decades is modelled: an on/off flag plus a log-scale value.
    """
    return as_float(config, name) if as_bool(config, flag) else 0.0
