"""SuggestConfigs responses assembled from serialized fragments equal the message-built ones."""

from __future__ import annotations

import math

import pytest

from warmstart.metamodel.types import ConfigValue, NeighbourTask, Suggestion, SuggestionOrigin
from warmstart.protos.warmstart.v1 import warmstart_pb2 as pb
from warmstart.service.wire import convert
from warmstart.service.wire._fragments import varint
from warmstart.service.wire.api import SuggestAnswer


def _by_messages(answer: SuggestAnswer) -> pb.SuggestConfigsResponse:
    """The plain protobuf-API encoding, field by field: the reference."""
    return pb.SuggestConfigsResponse(
        model_version=answer.model_version,
        out_of_distribution=answer.out_of_distribution,
        space_id=answer.space_id,
        suggestions=[
            pb.Suggestion(
                config=convert.config_to_proto(s.config),
                predicted_score=s.predicted_score,
                uncertainty=s.uncertainty,
                predicted_fit_seconds=s.predicted_fit_seconds,
                origin=convert._ORIGINS[s.origin],
                nearest_tasks=[
                    pb.NeighbourTask(task_id=n.task_id, name=n.name, distance=n.distance)
                    for n in s.nearest_tasks
                ],
            )
            for s in answer.suggestions
        ],
    )


def _plain(message: pb.SuggestConfigsResponse) -> list[object]:
    """The response as plain values, NaN made comparable."""

    def number(x: float) -> object:
        return "nan" if math.isnan(x) else x

    return [
        message.model_version,
        message.out_of_distribution,
        message.space_id,
        [
            (
                {k: convert.value_from_proto(k, v) for k, v in s.config.parameters.items()},
                number(s.predicted_score),
                number(s.uncertainty),
                number(s.predicted_fit_seconds),
                s.origin,
                [(n.task_id, n.name, number(n.distance)) for n in s.nearest_tasks],
            )
            for s in message.suggestions
        ],
    ]


NEAR = (
    NeighbourTask("t-1", "breast_cancer", 0.25),
    NeighbourTask("t-2", "", 0.0),  # an empty name is left out of the wire format
    NeighbourTask("t-\u00e9\u4e2d", "n" * 300, 1e300),  # non-ASCII; a two-byte length
)
CONFIGS: list[dict[str, ConfigValue]] = [
    {"learning_rate": 0.05, "num_leaves": 31, "boosting": "gbdt", "bagging": True},
    {"C": -0.0, "kernel": "rbf", "degree": 0, "shrinking": False},
    {},
]


@pytest.mark.parametrize(
    "answer",
    [
        SuggestAnswer(
            tuple(
                Suggestion(config, 0.91 - i, 0.02 * i, 3.5, origin, NEAR)
                for i, (config, origin) in enumerate(zip(CONFIGS, SuggestionOrigin, strict=False))
            ),
            "lightgbm-20261130-abc",
            False,
            "space-1",
        ),
        SuggestAnswer(
            (
                Suggestion(CONFIGS[0], math.nan, 0.0, math.nan, SuggestionOrigin.MODEL, ()),
                Suggestion(CONFIGS[0], -1.5, math.inf, 0.0, SuggestionOrigin.REFINEMENT, NEAR[:1]),
            ),
            "",
            True,
            "",
        ),
        SuggestAnswer((), "v", False, "s"),
    ],
    ids=["three-kinds", "nan-inf-zero-and-repeats", "empty"],
)
def test_fragments_decode_to_the_message_built_response(answer: SuggestAnswer) -> None:
    fast = convert.suggest_answer_to_proto(answer)
    reference = _by_messages(answer)
    assert _plain(fast) == _plain(reference)
    # And through the wire, as a client gets it.
    assert _plain(pb.SuggestConfigsResponse.FromString(fast.SerializeToString())) == _plain(
        reference
    )
    # Twice: the second time the configs' fragments come from the cache.
    assert _plain(convert.suggest_answer_to_proto(answer)) == _plain(reference)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**21, 2**35 + 7])
def test_varint_matches_protobuf(value: int) -> None:
    # A uint64 field's encoding is its key (one byte here) followed by the varint.
    encoded = pb.ParameterValue(int_value=value).SerializeToString()
    assert encoded[1:] == varint(value)
