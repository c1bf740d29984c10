"""One request to the recommender, checked, and its answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import ConfigValue, NeighbourTask, Observation, Suggestion

__all__ = ["MAX_K", "MAX_OBSERVATIONS", "Recommendation", "SuggestQuery", "check_query"]

MAX_K = 100
"""The most suggestions one request may ask for."""

MAX_OBSERVATIONS = 10_000
"""The most observations of the task one request may carry."""


@dataclass(frozen=True)
class SuggestQuery:
    """One request of :meth:`Recommender.suggest_many`: what :meth:`Recommender.suggest` takes."""

    features: Mapping[str, float]
    k: int
    max_fit_seconds: float | None = None
    exclude: Sequence[Mapping[str, ConfigValue]] = ()
    train_rows: int | None = None
    observations: Sequence[Observation] = ()


@dataclass(frozen=True)
class Recommendation:
    """The answer to one request."""

    suggestions: list[Suggestion]
    out_of_distribution: bool
    nearest_tasks: tuple[NeighbourTask, ...] = ()
    observations: int = 0
    """How many of the request's observations the answer took into account."""


def check_query(query: SuggestQuery) -> None:
    """Raise :class:`InvalidRequestError` for a ``k``, fit-time limit or ``train_rows`` out of
    range."""
    k, limit = query.k, query.max_fit_seconds
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidRequestError(f"k must be an integer in [1, {MAX_K}], got {k!r}")
    if limit is not None and not (limit > 0 and np.isfinite(limit)):
        raise InvalidRequestError(f"max_fit_seconds must be a finite number > 0, got {limit!r}")
    rows = query.train_rows
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise InvalidRequestError(f"train_rows must be an integer >= 1, got {rows!r}")
    seen = query.observations
    if len(seen) > MAX_OBSERVATIONS:
        raise InvalidRequestError(
            f"at most {MAX_OBSERVATIONS} observations per request, got {len(seen)}"
        )
    for i, observation in enumerate(seen):
        score = observation.score
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
            raise InvalidRequestError(
                f"observation {i}: score must be a finite number, got {score!r}"
            )
