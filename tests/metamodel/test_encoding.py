"""Config encoding for the surrogate: shape, scaling, NaN for inactive, round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import small_space
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import load_configspace, sample_configs, validate_config


def test_columns_follow_the_space_and_mark_categoricals() -> None:
    space = load_configspace(small_space())
    encoder = ConfigEncoder(space)
    assert encoder.names == tuple(space.keys())
    assert {encoder.names[i] for i in encoder.categorical} == {"kernel", "shrinking"}


def test_log_scale_and_inactive_parameters() -> None:
    encoder = ConfigEncoder(load_configspace(small_space()))
    row = encoder.encode([{"C": 1.0, "kernel": "linear", "shrinking": False}])[0]
    named = dict(zip(encoder.names, row, strict=True))
    # C in [1e-3, 1e3] on a log scale: 1.0 is the middle.
    assert named["C"] == pytest.approx(0.5)
    assert math.isnan(named["gamma"])
    assert math.isnan(named["degree"])
    assert named["kernel"] == 1.0
    assert named["shrinking"] == 1.0


def test_unknown_choice_is_refused() -> None:
    encoder = ConfigEncoder(load_configspace(small_space()))
    with pytest.raises(InvalidRequestError, match="must be one of"):
        encoder.encode([{"C": 1.0, "kernel": "sigmoid", "shrinking": True}])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_decode_inverts_encode(seed: int) -> None:
    space = load_configspace(small_space())
    encoder = ConfigEncoder(space)
    configs = sample_configs(space, 8, method="random", seed=seed)
    back = encoder.decode(encoder.encode(configs))
    for original, decoded in zip(configs, back, strict=True):
        assert decoded.keys() == original.keys()
        for key, value in original.items():
            if isinstance(value, float):
                assert decoded[key] == pytest.approx(value, rel=1e-9)
            else:
                assert decoded[key] == value


@settings(max_examples=30, deadline=None)
@given(
    matrix=st.lists(
        st.lists(st.floats(-1, 2) | st.just(float("nan")), min_size=5, max_size=5),
        min_size=1,
        max_size=5,
    )
)
def test_decoding_any_vector_gives_a_valid_config(matrix: list[list[float]]) -> None:
    space = load_configspace(small_space())
    for config in ConfigEncoder(space).decode(np.array(matrix)):
        assert validate_config(space, config) == config
