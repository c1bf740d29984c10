"""Recommendation: choose k good and varied warm-start configs for a new task."""

from __future__ import annotations

from metamodel.recommend._index import TaskIndex
from metamodel.recommend._recommender import Recommender
from metamodel.recommend._request import MAX_K, Recommendation, SuggestQuery
from metamodel.recommend._set_choice import SET_RULES
from metamodel.recommend._settings import RecommenderSettings

__all__ = [
    "MAX_K",
    "SET_RULES",
    "Recommendation",
    "Recommender",
    "RecommenderSettings",
    "SuggestQuery",
    "TaskIndex",
]
