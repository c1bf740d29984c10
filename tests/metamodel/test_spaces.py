"""Search spaces: hashing, validation messages, and sampling over random spaces."""

from __future__ import annotations

import math

import pytest
from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import small_space
from warmstart.metamodel import spaces as spaces_module
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import (
    canonical_config,
    config_hash,
    load_configspace,
    make_search_space,
    parse_search_space,
    sample_configs,
    validate_config,
)


def test_space_id_is_stable_and_changes_with_content() -> None:
    a, b = small_space(), small_space()
    assert a.space_id == b.space_id
    assert parse_search_space(a.name, a.definition).space_id == a.space_id
    other = load_configspace(a, fresh=True)
    other.add(Float("tol", (1e-5, 1e-1), log=True))
    assert make_search_space(a.name, other).space_id != a.space_id


def test_config_hash_ignores_order_and_float_noise() -> None:
    assert config_hash({"a": 0.1 + 0.2, "b": 1}) == config_hash({"b": 1, "a": 0.3})
    assert config_hash({"a": 1}) != config_hash({"a": 1.0})
    assert config_hash({"a": True}) != config_hash({"a": 1})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"C": 1.0, "kernel": "sigmoid", "shrinking": True}, "must be one of 'rbf', 'linear'"),
        ({"C": 1.0, "kernel": "linear"}, "active parameter(s) missing: 'shrinking'"),
        ({"C": 1.0, "kernel": "rbf", "shrinking": True}, "missing: 'gamma'"),
        ({"C": 1.0, "kernel": "linear", "shrinking": True, "gamma": 1.0}, "inactive"),
        ({"C": 5000.0, "kernel": "linear", "shrinking": True}, "in [0.001, 1000.0], log scale"),
        ({"C": "1", "kernel": "linear", "shrinking": True}, "must be a number"),
        ({"C": 1.0, "kernel": "poly", "degree": 2.5, "shrinking": True}, "must be an integer"),
        ({"C": 1.0, "kernel": "linear", "shrinking": 1}, "must be one of True, False, got 1"),
        ({"C": math.inf, "kernel": "linear", "shrinking": True}, "must be finite"),
        ({"C": 1.0, "kernel": "linear", "shrinking": True, "nu": 0.5}, "unknown parameter"),
        ({"C": [1], "kernel": "linear", "shrinking": True}, "must be an int, float, str or bool"),
    ],
)
def test_validation_names_the_problem(config: dict[str, object], message: str) -> None:
    space = load_configspace(small_space())
    with pytest.raises(InvalidRequestError) as info:
        validate_config(space, config)
    assert message in str(info.value)


def test_integral_floats_are_accepted_for_integers() -> None:
    space = load_configspace(small_space())
    config = validate_config(space, {"C": 1, "kernel": "poly", "degree": 3.0, "shrinking": True})
    assert config["degree"] == 3
    assert isinstance(config["degree"], int)
    assert isinstance(config["C"], float)


@st.composite
def spaces(draw: st.DrawFn) -> ConfigurationSpace:
    """Random spaces: floats (log or not), integers, categoricals, one condition."""
    space = ConfigurationSpace()
    n = draw(st.integers(1, 6))
    for i in range(n):
        kind = draw(st.sampled_from(["float", "int", "cat"]))
        if kind == "float":
            low = draw(st.floats(1e-4, 10.0))
            high = low * draw(st.floats(1.5, 1e4))
            space.add(Float(f"p{i}", (low, high), log=draw(st.booleans())))
        elif kind == "int":
            low = draw(st.integers(1, 50))
            space.add(
                Integer(f"p{i}", (low, low + draw(st.integers(1, 500))), log=draw(st.booleans()))
            )
        else:
            k = draw(st.integers(2, 4))
            space.add(Categorical(f"p{i}", [f"c{j}" for j in range(k)]))
    if draw(st.booleans()):
        space.add(Categorical("switch", ["on", "off"]))
        child = Float("child", (0.0, 1.0))
        space.add(child)
        space.add(EqualsCondition(child, space["switch"], "on"))
    return space


@settings(max_examples=40, deadline=None)
@given(
    space=spaces(),
    method=st.sampled_from(["random", "sobol", "grid", "local"]),
    seed=st.integers(0, 99),
)
def test_every_sampled_config_is_valid_and_distinct(
    space: ConfigurationSpace, method: str, seed: int
) -> None:
    configs = sample_configs(space, 12, method=method, seed=seed)  # type: ignore[arg-type]
    assert configs
    assert configs[0] == canonical_config(dict(space.get_default_configuration()))
    assert len({config_hash(c) for c in configs}) == len(configs)
    for config in configs:
        assert validate_config(space, config) == config


def test_the_local_sampler_stays_within_its_scale_of_the_default() -> None:
    space = ConfigurationSpace()
    space.add(
        [
            Float("rate", (1e-3, 1.0), log=True, default=0.1),
            Integer("trees", (10, 2000), log=True, default=100),
            Float("fraction", (0.1, 1.0), default=1.0),
        ]
    )
    local = sample_configs(space, 64, method="local", seed=0, scale=0.1)
    wide = sample_configs(space, 64, method="sobol", seed=0)
    assert len(local) == 64
    # 0.1 of a 3-decade log range is 0.3 decades either side of 0.1; of 0.1..1, 0.09 below 1.
    rates = [float(c["rate"]) for c in local]
    assert all(0.1 / 10**0.3 - 1e-9 <= rate <= 0.1 * 10**0.3 + 1e-9 for rate in rates)
    assert all(float(c["fraction"]) >= 0.91 - 1e-9 for c in local)
    assert min(float(c["rate"]) for c in wide) < 0.01
    assert min(float(c["fraction"]) for c in wide) < 0.5
    # a parameter the default leaves inactive is drawn around its own default
    switch = ConfigurationSpace()
    flag = Categorical("bag", [False, True], default=False)
    share = Float("share", (0.2, 1.0), default=1.0)
    switch.add([flag, share, EqualsCondition(share, flag, True)])
    drawn = sample_configs(switch, 8, method="local", seed=0, scale=0.5)
    assert {c["bag"] for c in drawn} == {False, True}
    assert all(float(c["share"]) >= 0.6 - 1e-9 for c in drawn if c["bag"])
    with pytest.raises(InvalidRequestError, match=r"scale must be in \(0, 1\], got 0"):
        sample_configs(space, 4, method="local", scale=0.0)


def test_sampling_is_reproducible() -> None:
    space = load_configspace(small_space())
    assert sample_configs(space, 20, seed=3) == sample_configs(space, 20, seed=3)
    assert sample_configs(space, 20, seed=3) != sample_configs(space, 20, seed=4)


def test_conditions_are_worked_out_once_per_combination_of_their_parents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Checking 1,000 excluded configs worked out each one's active parameters through
    # ConfigSpace's conditions, holding the server's GIL for about 150 ms.
    space = load_configspace(small_space())
    configs = sample_configs(space, 300, seed=5)
    calls: list[object] = []
    real = spaces_module.active_parameters

    def counting(*args: object) -> set[str]:
        calls.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(spaces_module, "active_parameters", counting)
    for config in configs:
        assert validate_config(space, config) == config
    assert len(calls) <= 3  # kernel is rbf, linear or poly: the conditions' only parent


@settings(max_examples=60, deadline=None)
@given(space=spaces(), seed=st.integers(0, 99), data=st.data())
def test_prepared_checks_answer_as_the_full_check(
    space: ConfigurationSpace, seed: int, data: st.DataObject
) -> None:
    values = st.one_of(
        st.integers(-5, 2000),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.sampled_from(["c0", "c1", "c3", "on", "off", ""]),
    )
    for config in sample_configs(space, 6, seed=seed):
        changed = dict(config)
        for name in data.draw(st.lists(st.sampled_from([*space.keys(), "nope"]), max_size=3)):
            if data.draw(st.booleans()):
                changed[name] = data.draw(values)
            else:
                changed.pop(name, None)
        for candidate in (config, changed):
            try:
                expected: object = spaces_module._validate_fully(space, candidate)
            except InvalidRequestError as exc:
                expected = str(exc)
            try:
                got: object = validate_config(space, candidate)
            except InvalidRequestError as exc:
                got = str(exc)
            assert got == expected
            assert [type(v) for v in getattr(got, "values", list)()] == [
                type(v) for v in getattr(expected, "values", list)()
            ]


def test_a_space_added_to_after_use_is_checked_as_it_is_now() -> None:
    space = load_configspace(small_space(), fresh=True)
    config = {"C": 1.0, "kernel": "linear", "shrinking": True}
    assert validate_config(space, config) == config
    space.add(Float("tol", (1e-5, 1e-1), log=True))
    with pytest.raises(InvalidRequestError, match="missing: 'tol'"):
        validate_config(space, config)
    assert validate_config(space, {**config, "tol": 0.01})["tol"] == 0.01
