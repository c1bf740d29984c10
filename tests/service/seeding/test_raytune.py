"""Ray Tune seeding: plain ``points_to_evaluate`` dicts (Ray itself is not installed)."""

from __future__ import annotations

import numpy as np
import pytest
from ConfigSpace import ConfigurationSpace

from tests.service.seeding.spaces import MLP_ONE_LAYER, MLP_THREE_LAYERS
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import Suggestion, SuggestionOrigin
from warmstart.service.seeding import to_raytune_points_to_evaluate


def test_points_are_the_active_configs(mlp: ConfigurationSpace) -> None:
    points = to_raytune_points_to_evaluate([MLP_ONE_LAYER, MLP_THREE_LAYERS], mlp)

    assert points == [MLP_ONE_LAYER, MLP_THREE_LAYERS]
    assert "units_2" not in points[0]
    assert all(type(p) is dict for p in points)


def test_values_become_plain_python_types() -> None:
    suggestion = Suggestion(
        config={"lr": 0.1, "kernel": "rbf"},
        predicted_score=0.5,
        uncertainty=0.1,
        predicted_fit_seconds=2.0,
        origin=SuggestionOrigin.MODEL,
    )
    points = to_raytune_points_to_evaluate(
        [{"n": np.int64(3), "lr": np.float32(0.5), "flag": np.bool_(True)}, suggestion]
    )

    assert points == [{"flag": True, "lr": 0.5, "n": 3}, {"kernel": "rbf", "lr": 0.1}]
    assert [type(v) for v in points[0].values()] == [bool, float, int]


def test_with_a_space_configs_are_validated(svm: ConfigurationSpace) -> None:
    with pytest.raises(InvalidRequestError, match="config #0: parameter 'kernel' must be one of"):
        to_raytune_points_to_evaluate([{"kernel": "cubic", "C": 1.0}], svm)


def test_an_answer_object_is_pointed_to_its_suggestions() -> None:
    class Answer:
        suggestions = ({"x": 1},)

    with pytest.raises(InvalidRequestError, match=r"got Answer; pass answer.suggestions"):
        to_raytune_points_to_evaluate(Answer())  # type: ignore[arg-type]
