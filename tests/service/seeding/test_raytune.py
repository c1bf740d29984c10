"""Ray Tune seeding: plain points, and points as the real HyperOptSearch takes them."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from ConfigSpace import (
    AndConjunction,
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    GreaterThanCondition,
)

from tests.service.seeding.spaces import MLP_ONE_LAYER, MLP_THREE_LAYERS
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.types import Suggestion, SuggestionOrigin
from warmstart.service.seeding import (
    config_from_raytune,
    to_raytune_hyperopt_search,
    to_raytune_points_to_evaluate,
    to_raytune_space,
)


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


def test_fill_inactive_needs_the_space() -> None:
    with pytest.raises(InvalidRequestError, match="fill_inactive=True needs the space"):
        to_raytune_points_to_evaluate([MLP_ONE_LAYER], fill_inactive=True)


def test_filled_points_hold_every_parameter_at_its_default(mlp: ConfigurationSpace) -> None:
    (point,) = to_raytune_points_to_evaluate([MLP_ONE_LAYER], mlp, fill_inactive=True)
    assert set(point) == set(mlp)  # every parameter
    assert point["units_2"] == 100  # the defaults
    assert point["momentum"] == 0.9
    assert config_from_raytune(mlp, point) == MLP_ONE_LAYER


def test_config_from_raytune_refuses_a_forbidden_config(logistic: ConfigurationSpace) -> None:
    with pytest.raises(InvalidRequestError, match="forbidden"):
        config_from_raytune(
            logistic, {"penalty": {"penalty#0": {"penalty": "l1", "C": 1.0}}, "solver": "lbfgs"}
        )


def test_spaces_that_cannot_be_nested_are_named() -> None:
    space = ConfigurationSpace()
    a = Categorical("a", ["x", "y"])
    b = Categorical("b", ["x", "y"])
    c = Float("c", (0.0, 1.0))
    space.add([a, b, c, AndConjunction(EqualsCondition(c, a, "x"), EqualsCondition(c, b, "x"))])
    with pytest.raises(InvalidRequestError, match="'c' depends on several parameters"):
        to_raytune_space(space)
    floats = ConfigurationSpace()
    f, g = Float("f", (0.0, 1.0)), Float("g", (0.0, 1.0))
    floats.add([f, g, GreaterThanCondition(g, f, 0.5)])
    with pytest.raises(InvalidRequestError, match=r"'f' \(UniformFloatHyperparameter\) switches"):
        to_raytune_space(floats)


# The real Ray Tune: HyperOptSearch driven directly, as a Tuner does (suggest, then
# on_trial_complete), without starting a Ray cluster.


def _hyperopt_search() -> type:
    pytest.importorskip("hyperopt", reason="hyperopt is not installed (the optimizers extra)")
    module = pytest.importorskip(
        "ray.tune.search.hyperopt", reason="Ray Tune is not installed (the raytune extra)"
    )
    return module.HyperOptSearch  # type: ignore[no-any-return]


def _leaves(config: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(_leaves(value))
        else:
            out[key] = value
    return out


def _drive(search: object, n: int) -> list[dict[str, object]]:
    configs = []
    for i in range(n):
        configs.append(search.suggest(str(i)))  # type: ignore[attr-defined]
        search.on_trial_complete(str(i), {"score": float(i)})  # type: ignore[attr-defined]
    return configs


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sampled_configs_of_the_nested_space_hold_only_active_parameters(
    any_space: ConfigurationSpace,
) -> None:
    search = _hyperopt_search()(metric="score", mode="max", random_state_seed=0, n_initial_points=5)
    assert search.set_search_properties("score", "max", to_raytune_space(any_space))
    seen_branches = set()
    refused: list[str] = []
    for config in _drive(search, 40):
        leaves = {k: v for k, v in _leaves(config).items() if k in any_space}
        try:
            active = config_from_raytune(any_space, config)
        except InvalidRequestError as exc:  # forbidden clauses cannot be expressed
            refused.append(str(exc))
            continue
        assert set(leaves) == set(active), "an inactive parameter was sampled"
        seen_branches.add(frozenset(active))
    assert len(seen_branches) >= 2, "the branches should all be reachable"
    assert all("forbidden" in message for message in refused)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_hyperopt_search_evaluates_the_suggestions_first(mlp: ConfigurationSpace) -> None:
    _hyperopt_search()
    suggestions = [MLP_ONE_LAYER, MLP_THREE_LAYERS]
    search = to_raytune_hyperopt_search(
        mlp, suggestions, metric="score", mode="max", random_state_seed=0
    )
    got = [config_from_raytune(mlp, c) for c in _drive(search, 8)]
    assert got[:2] == suggestions
    assert len({repr(sorted(c.items())) for c in got}) == 8


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_flat_param_space_takes_filled_points_not_active_only_ones(
    svm: ConfigurationSpace,
) -> None:
    HyperOptSearch = _hyperopt_search()
    from ray import tune

    flat = {
        "C": tune.loguniform(1e-3, 1e4),
        "kernel": tune.choice(["rbf", "poly", "sigmoid", "linear"]),
        "gamma_mode": tune.choice(["scale", "value"]),
        "gamma": tune.loguniform(1e-4, 10.0),
        "degree": tune.randint(2, 6),
        "coef0": tune.uniform(-1.0, 1.0),
        "tol": tune.loguniform(1e-5, 1e-1),
        "shrinking": tune.choice([True, False]),
    }
    linear = {"C": 2.0, "kernel": "linear", "tol": 0.01, "shrinking": False}
    active_only = to_raytune_points_to_evaluate([linear], svm)
    search = HyperOptSearch(metric="score", mode="max", points_to_evaluate=active_only)
    search.set_search_properties("score", "max", flat)
    with pytest.raises(ValueError, match="GarbageCollected"):
        search.suggest("0")  # what the issue saw

    filled = to_raytune_points_to_evaluate([linear], svm, fill_inactive=True)
    search = HyperOptSearch(metric="score", mode="max", points_to_evaluate=filled)
    search.set_search_properties("score", "max", flat)
    first = search.suggest("0")
    assert config_from_raytune(svm, first) == linear
