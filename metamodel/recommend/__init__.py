"""Recommendation: choose k good and varied warm-start configs for a new task."""

from __future__ import annotations

from metamodel.recommend._index import TaskIndex
from metamodel.recommend._recommender import (
    MAX_K,
    Recommendation,
    Recommender,
    RecommenderSettings,
    SuggestQuery,
)

__all__ = [
    "MAX_K",
    "Recommendation",
    "Recommender",
    "RecommenderSettings",
    "SuggestQuery",
    "TaskIndex",
]
