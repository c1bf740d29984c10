"""Optuna seeding against real Optuna studies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from ConfigSpace import ConfigurationSpace, NormalFloatHyperparameter

from tests.service.seeding.spaces import MLP_ONE_LAYER, MLP_THREE_LAYERS
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import make_search_space, sample_configs, validate_config
from warmstart.metamodel.types import Suggestion, SuggestionOrigin
from warmstart.service.seeding import enqueue_suggestions, suggest_from_space

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study() -> Any:
    return optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))


def _run(study: Any, space: ConfigurationSpace, n_trials: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        config = suggest_from_space(trial, space)
        seen.append(config)
        return float(len(config))

    study.optimize(objective, n_trials=n_trials)
    return seen


def test_first_trials_are_the_seeded_configs(any_space: ConfigurationSpace) -> None:
    configs = sample_configs(any_space, 6, seed=1)
    study = _study()

    assert enqueue_suggestions(study, configs, any_space) == len(configs)
    seen = _run(study, any_space, n_trials=len(configs) + 4)

    assert [t.params for t in study.trials[: len(configs)]] == configs
    assert seen[: len(configs)] == configs
    assert len(study.trials) == len(configs) + 4


def test_conditional_configs_with_inactive_parameters_absent(mlp: ConfigurationSpace) -> None:
    study = _study()
    enqueue_suggestions(study, [MLP_ONE_LAYER, MLP_THREE_LAYERS], mlp)

    seen = _run(study, mlp, n_trials=2)

    assert seen == [validate_config(mlp, MLP_ONE_LAYER), validate_config(mlp, MLP_THREE_LAYERS)]
    assert study.trials[0].params == MLP_ONE_LAYER
    assert "units_2" not in study.trials[0].params
    assert "momentum" not in study.trials[0].params
    assert study.trials[1].params == MLP_THREE_LAYERS


def test_sampled_trials_are_valid_and_record_exactly_the_config(
    any_space: ConfigurationSpace,
) -> None:
    study = _study()
    seen = _run(study, any_space, n_trials=25)

    complete = [t.params for t in study.trials if t.state.name == "COMPLETE"]
    assert complete == seen  # pruned trials (forbidden samples) return no config
    assert len(complete) >= 15
    for params in complete:
        validate_config(any_space, params)


def test_value_types_match_the_space(mlp: ConfigurationSpace) -> None:
    study = _study()
    enqueue_suggestions(study, [MLP_THREE_LAYERS], mlp)
    (config,) = _run(study, mlp, n_trials=1)

    assert type(config["n_layers"]) is int
    assert type(config["batch_size"]) is int
    assert type(config["dropout"]) is float
    assert type(config["nesterov"]) is bool
    assert config["loss"] == "cross_entropy"


def test_seeding_twice_adds_nothing(svm: ConfigurationSpace) -> None:
    configs = sample_configs(svm, 4, seed=2)
    study = _study()

    assert enqueue_suggestions(study, configs + configs[:1], svm) == 4
    assert enqueue_suggestions(study, configs, svm) == 0
    _run(study, svm, n_trials=4)
    assert enqueue_suggestions(study, configs, svm) == 0
    assert len(study.trials) == 4


def test_suggestion_objects_and_duck_types_are_accepted(mlp: ConfigurationSpace) -> None:
    @dataclass(frozen=True)
    class ClientSuggestion:
        config: dict[str, Any]
        rank: int

    suggestion = Suggestion(
        config=MLP_ONE_LAYER,
        predicted_score=0.9,
        uncertainty=0.1,
        predicted_fit_seconds=1.0,
        origin=SuggestionOrigin.PORTFOLIO,
    )
    study = _study()
    enqueue_suggestions(
        study,
        [suggestion, ClientSuggestion(MLP_THREE_LAYERS, 2)],
        make_search_space("mlp", mlp),
        user_attrs={"source": "warmstart"},
    )

    _run(study, mlp, n_trials=2)
    assert [t.params for t in study.trials] == [MLP_ONE_LAYER, MLP_THREE_LAYERS]
    assert study.trials[0].user_attrs == {"source": "warmstart"}


def test_numpy_values_are_enqueued_as_plain_values(svm: ConfigurationSpace) -> None:
    config = {"C": np.float64(2.5), "kernel": np.str_("linear"), "tol": 1e-3, "shrinking": True}
    study = _study()
    enqueue_suggestions(study, [config], svm)

    _run(study, svm, n_trials=1)
    assert study.trials[0].params == {"C": 2.5, "kernel": "linear", "tol": 1e-3, "shrinking": True}


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"units_1": 1024}, ["'units_1'", "an integer in [16, 512], log scale", "1024"]),
        ({"optimizer": "adagrad"}, ["'optimizer'", "'adam', 'sgd', 'rmsprop'", "'adagrad'"]),
        ({"batch_size": 100}, ["'batch_size'", "one of 32, 64, 128"]),
        ({"width": "huge"}, ["'width'", "'narrow', 'medium', 'wide'"]),
        ({"loss": "mse"}, ["'loss'", "exactly 'cross_entropy'"]),
        ({"use_weight_decay": "yes"}, ["'use_weight_decay'", "False, True"]),
        ({"units_2": 32}, ["inactive", "'units_2'", "'n_layers'"]),
        ({"typo": 1}, ["unknown parameter", "'typo'"]),
        ({"beta1": None}, ["'beta1'", "int, float, str or bool"]),
    ],
)
def test_invalid_config_raises_before_anything_is_enqueued(
    mlp: ConfigurationSpace, change: dict[str, Any], fragments: list[str]
) -> None:
    bad = {**MLP_ONE_LAYER, **change}
    study = _study()

    with pytest.raises(InvalidRequestError) as info:
        enqueue_suggestions(study, [MLP_THREE_LAYERS, bad], mlp)

    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith("config #1: ")
    for fragment in fragments:
        assert fragment in message
    assert study.trials == []


def test_missing_active_parameter_is_named(mlp: ConfigurationSpace) -> None:
    bad = {k: v for k, v in MLP_ONE_LAYER.items() if k != "beta1"}
    study = _study()
    with pytest.raises(
        InvalidRequestError, match=r"config #0: active parameter\(s\) missing: 'beta1'"
    ):
        enqueue_suggestions(study, [bad], mlp)
    assert study.trials == []


def test_forbidden_config_is_refused(logistic: ConfigurationSpace) -> None:
    study = _study()
    with pytest.raises(InvalidRequestError, match="forbidden"):
        enqueue_suggestions(study, [{"penalty": "l1", "solver": "lbfgs", "C": 1.0}], logistic)
    assert study.trials == []


@pytest.mark.parametrize("bad", [{"x": 1}, [object()]])
def test_not_a_list_of_configs(svm: ConfigurationSpace, bad: Any) -> None:
    with pytest.raises(InvalidRequestError, match="config"):
        enqueue_suggestions(_study(), bad, svm)


def test_without_a_space_configs_are_enqueued_as_given() -> None:
    study = _study()
    enqueue_suggestions(study, [{"x": 0.5}])

    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=1)
    assert study.trials[0].params == {"x": 0.5}


def test_fixed_trial_replays_a_config(mlp: ConfigurationSpace) -> None:
    trial = optuna.trial.FixedTrial(dict(MLP_THREE_LAYERS))
    assert suggest_from_space(trial, mlp) == validate_config(mlp, MLP_THREE_LAYERS)


def test_forbidden_sample_prunes_the_trial(logistic: ConfigurationSpace) -> None:
    trial = optuna.trial.FixedTrial({"penalty": "none", "solver": "liblinear"})
    with pytest.raises(optuna.TrialPruned, match="forbidden"):
        suggest_from_space(trial, logistic)


def test_study_with_forbidden_clauses_only_completes_allowed_configs(
    logistic: ConfigurationSpace,
) -> None:
    study = _study()
    _run(study, logistic, n_trials=30)
    for trial in study.trials:
        if trial.state.name == "COMPLETE":
            validate_config(logistic, trial.params)
        else:
            assert trial.state.name == "PRUNED"


def test_unsupported_hyperparameter_type_is_named() -> None:
    space = ConfigurationSpace()
    space.add(NormalFloatHyperparameter("x", mu=0.0, sigma=1.0, lower=-3.0, upper=3.0))
    with pytest.raises(InvalidRequestError, match="'x': NormalFloatHyperparameter"):
        suggest_from_space(optuna.trial.FixedTrial({"x": 0.0}), space)
