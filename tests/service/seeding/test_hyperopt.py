"""hyperopt seeding against real ``fmin`` runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ConfigSpace import Categorical, ConfigurationSpace

from tests.service.seeding.spaces import MLP_ONE_LAYER, MLP_THREE_LAYERS
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import sample_configs, validate_config
from warmstart.service.seeding import (
    config_from_hyperopt,
    to_hyperopt_points_to_evaluate,
    to_hyperopt_space,
    to_hyperopt_trials,
)

hyperopt = pytest.importorskip("hyperopt")


def _objective(space: ConfigurationSpace, seen: list[dict[str, Any]]) -> Any:
    def objective(params: dict[str, Any]) -> dict[str, Any]:
        try:
            config = config_from_hyperopt(space, params)
        except InvalidRequestError:
            return {"status": hyperopt.STATUS_FAIL}
        seen.append(config)
        return {"loss": float(len(config)), "status": hyperopt.STATUS_OK}

    return objective


def _fmin(space: ConfigurationSpace, seen: list[dict[str, Any]], **kwargs: Any) -> Any:
    return hyperopt.fmin(
        _objective(space, seen),
        to_hyperopt_space(space),
        algo=hyperopt.tpe.suggest,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
        **kwargs,
    )


def test_points_encode_choices_as_indices_and_fill_inactive_with_defaults(
    mlp: ConfigurationSpace,
) -> None:
    (point,) = to_hyperopt_points_to_evaluate(mlp, [MLP_ONE_LAYER])

    assert point["optimizer"] == 0  # "adam" among ("adam", "sgd", "rmsprop")
    assert point["batch_size"] == 2  # 128 among (32, 64, 128)
    assert point["dropout"] == 1  # 0.25 among (0.0, 0.25, 0.5)
    assert point["width"] == 2  # "wide" in the ordinal's sequence
    assert point["use_weight_decay"] == 0  # False among (False, True)
    assert point["units_1"] == 64
    assert point["learning_rate"] == 0.003
    assert point["units_2"] == 100  # inactive: the default, dropped again by the objective
    assert point["nesterov"] == 0  # inactive: True, the default, is choice 0
    assert "loss" not in point  # a constant is no label
    assert set(point) == set(mlp) - {"loss"}


def test_fmin_evaluates_exactly_the_seeded_configs_first(any_space: ConfigurationSpace) -> None:
    configs = sample_configs(any_space, 5, seed=3)
    points = to_hyperopt_points_to_evaluate(any_space, configs)
    trials = to_hyperopt_trials(any_space, configs)
    seen: list[dict[str, Any]] = []

    _fmin(any_space, seen, trials=trials, max_evals=len(points))

    first = trials.trials[: len(points)]
    assert [t["misc"]["vals"] for t in first] == [{k: [v] for k, v in p.items()} for p in points]
    assert [t["result"]["loss"] for t in first] == [float(len(c)) for c in configs]
    assert seen[: len(configs)] == configs
    # hyperopt 0.3.0 runs max_evals of its own on top of the seeds (see the docstrings).
    assert len(trials.trials) == 2 * len(points)


def test_points_to_evaluate_run_first(mlp: ConfigurationSpace) -> None:
    configs = [MLP_ONE_LAYER, MLP_THREE_LAYERS, *sample_configs(mlp, 3, seed=5)]
    points = to_hyperopt_points_to_evaluate(mlp, configs)
    seen: list[dict[str, Any]] = []

    _fmin(mlp, seen, points_to_evaluate=points, max_evals=len(points))

    assert seen[: len(configs)] == [validate_config(mlp, c) for c in configs]
    assert len(seen) == 2 * len(points)


def test_trials_then_search_continues(svm: ConfigurationSpace) -> None:
    configs = sample_configs(svm, 3, seed=7)
    seen: list[dict[str, Any]] = []

    _fmin(svm, seen, trials=to_hyperopt_trials(svm, configs), max_evals=10)

    assert seen[:3] == configs
    assert len(seen) == 13
    for config in seen:
        assert validate_config(svm, config) == config


def test_sampled_configs_are_valid_and_cover_integer_ends(mlp: ConfigurationSpace) -> None:
    seen: list[dict[str, Any]] = []
    hyperopt.fmin(
        _objective(mlp, seen),
        to_hyperopt_space(mlp),
        algo=hyperopt.rand.suggest,
        max_evals=120,
        rstate=np.random.default_rng(1),
        show_progressbar=False,
    )

    assert len(seen) == 120
    for config in seen:
        assert validate_config(mlp, config) == config
    assert {c["n_layers"] for c in seen} == {1, 2, 3}
    assert {c["batch_size"] for c in seen} == {32, 64, 128}


def test_best_maps_back_through_space_eval(mlp: ConfigurationSpace) -> None:
    trials = to_hyperopt_trials(mlp, [MLP_ONE_LAYER])
    seen: list[dict[str, Any]] = []
    best = _fmin(mlp, seen, trials=trials, max_evals=1)

    params = hyperopt.space_eval(to_hyperopt_space(mlp), best)
    assert config_from_hyperopt(mlp, params) == validate_config(mlp, MLP_ONE_LAYER)


def test_samples_stay_in_bounds_on_log_scale(mlp: ConfigurationSpace) -> None:
    hp_space = to_hyperopt_space(mlp)
    for seed in range(50):
        sample = hyperopt.pyll.stochastic.sample(hp_space, rng=np.random.default_rng(seed))
        assert 1e-5 <= sample["learning_rate"] <= 1e-1
        assert 16 <= sample["units_1"] <= 512
        assert type(sample["units_1"]) is int
        assert sample["loss"] == "cross_entropy"


def test_weighted_categorical_becomes_pchoice() -> None:
    space = ConfigurationSpace()
    space.add(Categorical("c", ["a", "b"], weights=[0.0, 1.0]))
    hp_space = to_hyperopt_space(space)
    samples = {
        hyperopt.pyll.stochastic.sample(hp_space, rng=np.random.default_rng(s))["c"]
        for s in range(10)
    }
    assert samples == {"b"}
    assert to_hyperopt_points_to_evaluate(space, [{"c": "a"}]) == [{"c": 0}]


def test_forbidden_config_is_refused(logistic: ConfigurationSpace) -> None:
    with pytest.raises(InvalidRequestError, match="forbidden"):
        config_from_hyperopt(logistic, {"penalty": "l1", "solver": "lbfgs", "C": 1.0})
    with pytest.raises(InvalidRequestError, match="config #0: config is forbidden"):
        to_hyperopt_trials(logistic, [{"penalty": "l1", "solver": "lbfgs", "C": 1.0}])


def test_invalid_point_names_parameter(mlp: ConfigurationSpace) -> None:
    with pytest.raises(InvalidRequestError, match=r"config #0: parameter 'dropout' must be one of"):
        to_hyperopt_points_to_evaluate(mlp, [{**MLP_ONE_LAYER, "dropout": 0.3}])
