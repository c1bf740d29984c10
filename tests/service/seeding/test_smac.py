"""SMAC: the initial design evaluates warmstart's suggestions first (the real SMAC 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ConfigSpace import ConfigurationSpace

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.spaces import validate_config
from warmstart.metamodel.types import ConfigValue
from warmstart.service.seeding import to_configurations, to_smac_initial_design

smac = pytest.importorskip("smac", reason="SMAC is not installed (the smac extra)")

SUGGESTIONS: list[dict[str, ConfigValue]] = [
    {"C": 3.0, "kernel": "linear", "shrinking": False, "tol": 0.01},
    {
        "C": 0.5,
        "kernel": "poly",
        "gamma_mode": "value",
        "gamma": 0.2,
        "degree": 4,
        "coef0": 0.1,
        "shrinking": True,
        "tol": 0.001,
    },
    {"C": 20.0, "kernel": "rbf", "gamma_mode": "scale", "shrinking": True, "tol": 0.0001},
]


def _scenario(space: ConfigurationSpace, tmp_path: Path, n_trials: int) -> Any:
    return smac.Scenario(
        space, n_trials=n_trials, deterministic=True, output_directory=tmp_path, seed=0
    )


def test_smacs_own_recipe_puts_the_suggestions_after_its_sobol_configs(
    svm: ConfigurationSpace, tmp_path: Path
) -> None:
    scenario = _scenario(svm, tmp_path, 40)
    configs = to_configurations(svm, SUGGESTIONS)
    own = smac.HyperparameterOptimizationFacade.get_initial_design(
        scenario, additional_configs=configs
    ).select_configurations()
    assert [dict(c) for c in own[-3:]] == SUGGESTIONS  # why this module exists
    assert len(own) > 3


def test_the_suggestions_come_first_then_the_designs_own(
    svm: ConfigurationSpace, tmp_path: Path
) -> None:
    design = to_smac_initial_design(_scenario(svm, tmp_path, 40), SUGGESTIONS, n_configs=2)
    chosen = design.select_configurations()
    assert [dict(c) for c in chosen[:3]] == SUGGESTIONS
    assert len(chosen) == 5
    assert {c.origin for c in chosen[:3]} == {"Initial design: warmstart suggestion"}


def test_smac_evaluates_the_suggestions_first_in_order(
    svm: ConfigurationSpace, tmp_path: Path
) -> None:
    evaluated: list[dict[str, ConfigValue]] = []

    def train(config: Any, seed: int = 0) -> float:
        evaluated.append(validate_config(svm, dict(config)))
        return abs(float(config["C"]) - 1.0)

    scenario = _scenario(svm, tmp_path, 4)
    design = to_smac_initial_design(scenario, SUGGESTIONS)
    optimizer = smac.HyperparameterOptimizationFacade(
        scenario, train, initial_design=design, overwrite=True, logging_level=40
    )
    optimizer.optimize()
    assert evaluated[:3] == SUGGESTIONS
    assert len(evaluated) == 4
    assert len({repr(sorted(c.items())) for c in evaluated}) == 4


def test_bad_requests_are_named(svm: ConfigurationSpace, tmp_path: Path) -> None:
    scenario = _scenario(svm, tmp_path, 4)
    with pytest.raises(InvalidRequestError, match="3 suggestions and n_configs=2 make more"):
        to_smac_initial_design(scenario, SUGGESTIONS, n_configs=2)
    with pytest.raises(InvalidRequestError, match="n_configs must be an integer >= 0"):
        to_smac_initial_design(scenario, SUGGESTIONS, n_configs=-1)
    with pytest.raises(InvalidRequestError, match="config #0: parameter 'kernel'"):
        to_smac_initial_design(scenario, [{"C": 1.0, "kernel": "cubic"}])
