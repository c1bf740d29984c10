"""ConfigSpace / SMAC seeding: validated ``Configuration`` objects."""

from __future__ import annotations

import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from tests.service.seeding.spaces import MLP_ONE_LAYER, MLP_THREE_LAYERS
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import make_search_space, sample_configs
from warmstart.service.seeding import to_configurations


def test_configurations_hold_exactly_the_configs(any_space: ConfigurationSpace) -> None:
    configs = sample_configs(any_space, 8, seed=4)

    out = to_configurations(any_space, configs)

    assert all(isinstance(c, Configuration) for c in out)
    assert [dict(c) for c in out] == configs
    for configuration in out:
        configuration.check_valid_configuration()


def test_inactive_parameters_are_unset(mlp: ConfigurationSpace) -> None:
    one, three = to_configurations(make_search_space("mlp", mlp), [MLP_ONE_LAYER, MLP_THREE_LAYERS])

    assert "units_2" not in one
    assert "momentum" not in one
    assert one["beta1"] == 0.85
    assert three["units_3"] == 200
    assert three["nesterov"] is False


def test_invalid_config_names_position_parameter_and_allowed_values(
    mlp: ConfigurationSpace,
) -> None:
    bad = {**MLP_THREE_LAYERS, "momentum": 1.5}
    with pytest.raises(
        InvalidRequestError,
        match=r"config #1: parameter 'momentum' must be a number in \[0.0, 0.99\]",
    ):
        to_configurations(mlp, [MLP_ONE_LAYER, bad])


def test_forbidden_config_is_refused(logistic: ConfigurationSpace) -> None:
    with pytest.raises(InvalidRequestError, match="config #0: config is forbidden"):
        to_configurations(logistic, [{"penalty": "none", "solver": "liblinear"}])


def test_space_must_be_a_space() -> None:
    with pytest.raises(InvalidRequestError, match="ConfigurationSpace or a warmstart SearchSpace"):
        to_configurations({"x": 1}, [])  # type: ignore[arg-type]
