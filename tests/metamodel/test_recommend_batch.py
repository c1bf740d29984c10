"""Recommender.suggest_many: a batch gives each request exactly what it gets alone.

On the shipped bundles and the knowledge base's real PMLB meta-features, with
varied k, fit-time limits and exclusions, bad requests mixed in, in batches of
every size: the server answers the requests that arrive together this way.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError, WarmstartError
from warmstart.metamodel.recommend import (
    Recommendation,
    Recommender,
    RecommenderSettings,
    SuggestQuery,
)

KB = Path(__file__).parents[2] / "kb"


@pytest.fixture(scope="module")
def kb_tasks() -> list[dict[str, float]]:
    rows = pq.read_table(KB / "pmlb_features.parquet").to_pylist()
    return [dict(zip(r["names"], r["values"], strict=True)) for r in rows]


def _queries(recommender: Recommender, tasks: list[dict[str, float]]) -> list[SuggestQuery]:
    """Varied requests over the tasks: k from 1 to 100, limits, excludes, and bad ones."""
    queries = []
    for i, features in enumerate(tasks):
        k = (1, 2, 5, 10, 30, 100)[i % 6]
        limit = (None, None, 0.5, 5.0)[i % 4]
        queries.append(SuggestQuery(features, k, limit))
        if i % 3 == 0:
            try:
                first = recommender.suggest(features, 3)
            except WarmstartError:
                continue
            queries.append(SuggestQuery(features, k, limit, [s.config for s in first.suggestions]))
    queries += [
        SuggestQuery({"no_such_feature": 1.0}, 3),
        SuggestQuery(tasks[0], 0),
        SuggestQuery(tasks[0], 3, max_fit_seconds=float("nan")),
        SuggestQuery(tasks[0], 3, max_fit_seconds=1e-9),  # nothing fits: precondition
        SuggestQuery({name: float("nan") for name in tasks[0]}, 3),
    ]
    return queries


def _alone(recommender: Recommender, query: SuggestQuery) -> Recommendation | str:
    try:
        return recommender.suggest(
            query.features, query.k, max_fit_seconds=query.max_fit_seconds, exclude=query.exclude
        )
    except WarmstartError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize(
    ("space", "settings"),
    [
        ("lightgbm", None),
        ("lightgbm", RecommenderSettings(n_refine_from=3)),
        ("svm", RecommenderSettings(n_screened=0, world_neighbours=3)),
        ("knn", None),
    ],
    ids=["lightgbm", "lightgbm-refine", "svm-unscreened", "knn"],
)
def test_a_batch_answers_each_request_as_it_is_answered_alone(
    kb_tasks: list[dict[str, float]], space: str, settings: RecommenderSettings | None
) -> None:
    recommender = load_bundle(KB / "models" / f"{space}.wsb").recommender(settings)
    queries = _queries(recommender, kb_tasks[::3])
    expected = [_alone(recommender, q) for q in queries]
    assert sum(isinstance(e, str) for e in expected) >= 4  # the bad ones at least
    assert sum(isinstance(e, Recommendation) for e in expected) >= 60
    rng = random.Random(0)
    order = list(range(len(queries)))
    rng.shuffle(order)
    got: dict[int, Recommendation | WarmstartError] = {}
    start = 0
    while start < len(order):
        size = rng.choice([1, 2, 3, 8, 17, 40])
        chunk = order[start : start + size]
        start += size
        answers = recommender.suggest_many([queries[i] for i in chunk])
        assert len(answers) == len(chunk)
        got.update(zip(chunk, answers, strict=True))
    for i, want in enumerate(expected):
        answer = got[i]
        if isinstance(want, str):
            assert isinstance(answer, WarmstartError), (i, want)
            assert f"{type(answer).__name__}: {answer}" == want
        else:
            # Exactly equal: the same configs, origins and the same floats to the last bit.
            assert answer == want, i


def test_bad_requests_in_a_batch_get_their_own_errors(kb_tasks: list[dict[str, float]]) -> None:
    recommender = load_bundle(KB / "models" / "lightgbm.wsb").recommender()
    good = SuggestQuery(kb_tasks[5], 4)
    answers = recommender.suggest_many(
        [
            good,
            SuggestQuery({"no_such_feature": 1.0}, 3),
            SuggestQuery(kb_tasks[5], 101),
            SuggestQuery(kb_tasks[5], 4, max_fit_seconds=1e-9),
            good,
        ]
    )
    assert isinstance(answers[0], Recommendation)
    assert len(answers[0].suggestions) == 4
    assert answers[4] == answers[0]
    assert isinstance(answers[1], InvalidRequestError)
    assert "unknown meta-feature name(s): no_such_feature" in str(answers[1])
    assert isinstance(answers[2], InvalidRequestError)
    assert "[1, 100]" in str(answers[2])
    assert isinstance(answers[3], FailedPreconditionError)
    assert "no candidate is predicted to fit within" in str(answers[3])
    assert recommender.suggest_many([]) == []
