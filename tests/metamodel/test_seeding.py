"""The seeding experiment (Optuna TPE cold against seeded) on the synthetic world."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import Configuration

from tests.metamodel.synthetic_world import CS, QUICK, SPACE, world
from tests.metamodel.test_evaluation import _fill_store
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation import (
    SeedingSettings,
    TaskObjective,
    run_seeding,
    write_seeding_report,
)
from warmstart.metamodel.optuna_space import suggest_from_space
from warmstart.metamodel.spaces import load_configspace, sample_configs
from warmstart.metamodel.store import RecordStore

optuna = pytest.importorskip("optuna")


def test_task_objective_is_normalised_and_ranks_like_the_records() -> None:
    _, records = world(1, seed=5)
    objective = TaskObjective(CS, records, seed=0)
    regrets = [objective.regret(dict(r.config)) for r in records]
    scores = [float(r.score) for r in records if r.score is not None]
    assert all(0.0 <= value <= 1.0 for value in regrets)
    # Fitted on these very configs, the forest orders them much like their scores.
    assert np.corrcoef(regrets, scores)[0, 1] < -0.8
    for config in sample_configs(CS, 20, method="random", seed=1):
        assert 0.0 <= objective.regret(config) <= 1.0


def test_task_objective_regret_is_zero_at_the_forests_best_evaluated_config() -> None:
    _, records = world(1, seed=5)
    objective = TaskObjective(CS, records, seed=0)
    regrets = [objective.regret(dict(r.config)) for r in records]
    # 0 and 1 are reachable: the forest's own best and worst evaluated configs.
    assert min(regrets) == 0.0
    assert max(regrets) == pytest.approx(1.0)
    # The forest averages its leaves: its best value lies below the best measured score.
    assert objective.best < objective.measured_best
    assert objective.worst > objective.measured_worst
    assert objective.measured_best == max(float(r.score) for r in records if r.score is not None)


def test_task_objective_needs_two_distinct_scores() -> None:
    _, records = world(1, seed=5)
    same = [r for r in records if r.score is not None][:1] * 3
    with pytest.raises(FailedPreconditionError, match="two distinct scores"):
        TaskObjective(CS, same)
    # One config measured twice: two scores, but nothing for the forest to tell apart.
    first = same[0]
    twice = [first, replace(first, record_id=None, score=float(first.score or 0) + 0.1)]
    with pytest.raises(FailedPreconditionError, match="every evaluated config the same value"):
        TaskObjective(CS, twice)


def test_suggest_from_space_samples_only_active_valid_parameters() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = load_configspace(SPACE)
    for _ in range(30):
        trial = study.ask()
        config = suggest_from_space(trial, space)
        assert trial.params == config
        Configuration(space, values=config).check_valid_configuration()
        study.tell(trial, 0.0)


def test_seeded_tpe_starts_from_the_suggestions_and_gets_ahead(tmp_path: Path) -> None:
    with RecordStore.open(f"sqlite:///{tmp_path / 'seed.db'}") as store:
        _fill_store(store, 20)
        settings = SeedingSettings(n_trials=12, k=3, repeats=1, max_tasks=6, train=QUICK)
        result = run_seeding(store, "svm_like", "test-1", settings)
    assert len(result.task_names) == 6
    for arm in ("cold", "seeded"):
        curves = result.curves[arm]
        assert curves.shape == (6, 12)
        assert np.all(np.diff(curves, axis=1) <= 1e-12)  # best so far never worsens
        assert np.all((curves >= 0) & (curves <= 1))
    # The world's best config follows the task's features: a model that learnt it
    # starts far ahead of TPE's first random trials.
    assert result.at("seeded", 3) < result.at("cold", 3)
    report = write_seeding_report(result, tmp_path / "out", command="warmstart evaluate ...")
    text = report.read_text()
    assert "trial 10" in text
    assert (tmp_path / "out" / "svm_like_seeding_regret.png").stat().st_size > 0


def test_seeding_needs_enough_families(tmp_path: Path) -> None:
    with RecordStore.open(f"sqlite:///{tmp_path / 'few.db'}") as store:
        _fill_store(store, 6)
        with pytest.raises(FailedPreconditionError, match="at least 5"):
            run_seeding(store, "svm_like", "test-1", SeedingSettings(train=QUICK))
