"""RecommenderSettings refuses fields out of range when built, and every edge it allows serves."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.metamodel.synthetic_world import FAST, NAMES, SPACE, features, world
from warmstart.metamodel.bundle import ModelBundle, train_from_records
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.recommend import RecommenderSettings


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("n_samples", -1, "`n_samples` must be an integer >= 0, but got n_samples=-1"),
        ("n_screened", -3, "`n_screened` must be an integer >= 0, but got n_screened=-3"),
        ("n_screened", 2.0, "`n_screened` must be an integer >= 0, but got n_screened=2.0"),
        ("n_refine_from", -1, "`n_refine_from` must be an integer >= 0"),
        ("n_refine_each", 0, "`n_refine_each` must be an integer >= 1, but got n_refine_each=0"),
        ("n_neighbours", -1, "`n_neighbours` must be an integer >= 0"),
        ("n_neighbours", True, "`n_neighbours` must be an integer >= 0, but got n_neighbours=True"),
        ("best_per_neighbour", -2, "`best_per_neighbour` must be an integer >= 0"),
        ("world_neighbours", -1, "`world_neighbours` must be an integer >= 0"),
        ("local_neighbours", 0, "`local_neighbours` must be an integer >= 1, but got"),
        ("shortlist", 0, "`shortlist` must be an integer >= 1, but got shortlist=0"),
        ("seed", -1, "`seed` must be an integer >= 0, but got seed=-1"),
        ("seed", "7", "`seed` must be an integer >= 0, but got seed='7'"),
        ("screen_portfolio", 1, "`screen_portfolio` must be a bool, but got screen_portfolio=1"),
        (
            "refine_scale",
            0.0,
            "`refine_scale` must be a number in (0, 1], but got refine_scale=0.0",
        ),
        ("refine_scale", 1.5, "`refine_scale` must be a number in (0, 1]"),
        (
            "refine_scale",
            math.nan,
            "`refine_scale` must be a number in (0, 1], but got refine_scale=nan",
        ),
        ("self_weight", -1.0, "`self_weight` must be a number in [0, 1], but got self_weight=-1.0"),
        ("self_weight", 1.01, "`self_weight` must be a number in [0, 1]"),
        (
            "self_weight",
            math.inf,
            "`self_weight` must be a number in [0, 1], but got self_weight=inf",
        ),
        (
            "self_weight",
            "0.5",
            "`self_weight` must be a number in [0, 1], but got self_weight='0.5'",
        ),
    ],
)
def test_a_field_out_of_range_is_refused_naming_it(field: str, value: Any, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        RecommenderSettings(**{field: value})
    assert fragment in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_numpy_integers_and_integral_weights_are_accepted() -> None:
    seed, screened = np.int64(3), np.int32(0)
    settings = RecommenderSettings(seed=seed, n_screened=screened, self_weight=1)  # type: ignore[arg-type]
    assert settings.seed == 3
    assert settings.self_weight == 1


@pytest.fixture(scope="module")
def trained() -> ModelBundle:
    tasks, records = world(24, seed=5)
    names = {t: t for t in tasks}
    return train_from_records(SPACE, records, features(tasks), names, "test-settings", FAST)


@pytest.mark.parametrize(
    "edge",
    [
        {"n_samples": 0},
        {"n_screened": 0},
        {"n_neighbours": 0, "world_neighbours": 0},
        {"best_per_neighbour": 0},
        {"self_weight": 0.0},
        {"self_weight": 1.0},
        {"shortlist": 1},
        {"n_refine_from": 1, "n_refine_each": 1, "refine_scale": 1.0},
        {"screen_portfolio": False, "seed": 0},
    ],
    ids=lambda edge: ",".join(f"{k}={v}" for k, v in edge.items()),
)
def test_every_edge_the_settings_allow_serves(trained: ModelBundle, edge: dict[str, Any]) -> None:
    recommender = trained.recommender(RecommenderSettings(**edge))
    task = dict(zip(NAMES, [0.3, 0.8, 0.5, 0.5], strict=True))
    result = recommender.suggest(task, k=5)
    assert 1 <= len(result.suggestions) <= 5
    assert len({tuple(sorted(s.config.items())) for s in result.suggestions}) == len(
        result.suggestions
    )
