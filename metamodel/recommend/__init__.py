"""Recommendation: choose k good and varied warm-start configs for a new task."""

from __future__ import annotations

from warmstart.metamodel.recommend._index import TaskIndex
from warmstart.metamodel.recommend._recommender import Recommender
from warmstart.metamodel.recommend._request import (
    MAX_K,
    MAX_OBSERVATIONS,
    Recommendation,
    SuggestQuery,
)
from warmstart.metamodel.recommend._set_choice import SET_RULES
from warmstart.metamodel.recommend._settings import RecommenderSettings

__all__ = [
    "MAX_K",
    "MAX_OBSERVATIONS",
    "SET_RULES",
    "Recommendation",
    "Recommender",
    "RecommenderSettings",
    "SuggestQuery",
    "TaskIndex",
]
