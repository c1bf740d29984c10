"""Learner lookup by name, or by import path for learners outside the package."""

from __future__ import annotations

import importlib

from warmstart.benchmarks.learners import Learner, get_learner
from warmstart.metamodel.errors import InvalidRequestError

__all__ = ["resolve_learner"]


def resolve_learner(spec: str) -> Learner:
    """Return a registered learner (``"lightgbm"``) or one named ``"module:attribute"``.

    The import path lets a team benchmark its own learner without changing
    warmstart: the attribute must be a :class:`Learner` instance.

    Raises:
        NotFoundError: No registered learner has that name.
        InvalidRequestError: The import path does not name a Learner.
    """
    if ":" not in spec:
        return get_learner(spec)
    module_name, _, attribute = spec.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise InvalidRequestError(f"cannot import learner {spec!r}: {exc}") from None
    if not isinstance(value, Learner):
        raise InvalidRequestError(
            f"{spec!r} is a {type(value).__name__}, not a benchmarks.learners.Learner instance"
        )
    return value
