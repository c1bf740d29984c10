"""Pools at the size they were trained on, and set rules chosen apart for whole tables.

A synthetic world of tables of 2,000 to 50,000 rows, each evaluated on a 200-row
sample (30 configs: its primary pool) and, for the first 20 of them, on all its rows
(its full-size pool). On the samples the best ``C`` follows the second meta-feature,
so the model's picks beat every free rule; on whole tables the library default is
every task's best, so what serves a request for a whole table is the default first.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.factories import ok_record
from tests.metamodel.synthetic_world import CS, SPACE
from warmstart.metamodel.bundle import (
    ModelBundle,
    TrainSettings,
    load_bundle,
    train_from_records,
)
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation import EvalSettings, evaluate_pool, write_pool_report
from warmstart.metamodel.pools import full_size_pool, pool_rows, primary_pool
from warmstart.metamodel.spaces import config_hash, default_config, sample_configs
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import (
    ConfigValue,
    EvaluationRecord,
    Task,
    TaskFeatures,
    TaskType,
)

NAMES = ("log_n_rows", "f1")
SAMPLE = 200
SMALL = SurrogateParams(n_models=3, n_estimators=60, config_rounds=20, min_child_samples=5)
DEFAULT = default_config(CS)


def _score(config: dict[str, ConfigValue], rows: float, f1: float) -> float:
    if rows > SAMPLE and config_hash(config) == config_hash(DEFAULT):
        return 1.0  # on whole tables the default is every task's best
    best_log_c = -2.0 + 4.0 * f1
    return 0.9 - 0.05 * (math.log10(float(config["C"])) - best_log_c) ** 2


def _world(
    n_tasks: int, seed: int
) -> tuple[dict[str, TaskFeatures], list[EvaluationRecord], dict[str, int]]:
    rng = np.random.default_rng(seed)
    drawn = [DEFAULT, *sample_configs(CS, 40, method="random", seed=seed)]
    configs = list({config_hash(c): c for c in drawn}.values())[:30]
    features, records, rows = {}, [], {}
    for i in range(n_tasks):
        task_id = f"whole-{seed}-{i}"
        n_rows = int(rng.integers(2_000, 50_000))
        f1 = float(rng.random())
        rows[task_id] = n_rows
        features[task_id] = TaskFeatures(task_id, "test-size", NAMES, (math.log(n_rows), f1))
        for fidelity, chosen in ((SAMPLE / n_rows, configs), (1.0, configs[:20])):
            for config in chosen:
                score = _score(config, fidelity * n_rows, f1) + rng.normal(0, 0.002)
                records.append(ok_record(task_id, SPACE, config, score, fidelity=fidelity))
    return features, records, rows


@pytest.fixture(scope="module")
def world() -> tuple[dict[str, TaskFeatures], list[EvaluationRecord], dict[str, int]]:
    return _world(36, seed=2)


@pytest.fixture(scope="module")
def validated(
    world: tuple[dict[str, TaskFeatures], list[EvaluationRecord], dict[str, int]],
) -> ModelBundle:
    features, records, _ = world
    return train_from_records(
        SPACE,
        records,
        features,
        {t: t for t in features},
        "test-size",
        TrainSettings(surrogate=SMALL, validation_folds=3, leaf_rows=()),
        families={t: t for t in features},
    )


def test_a_pool_knows_the_rows_its_configs_were_trained_on(
    world: tuple[dict[str, TaskFeatures], list[EvaluationRecord], dict[str, int]],
) -> None:
    features, records, rows = world
    task_id = next(iter(features))
    mine = [r for r in records if r.task_id == task_id]
    primary = primary_pool(mine, features[task_id])
    assert len(primary.scores) == 30
    assert primary.rows == SAMPLE
    full = full_size_pool(mine, features[task_id])
    assert full is not None
    assert full.fidelity == 1.0
    assert full.rows == rows[task_id]
    assert len(full.scores) == 20
    assert full.hashes == sorted(full.scores)
    # Fewer configs than the minimum at the larger size: no full-size pool.
    assert full_size_pool(mine, features[task_id], min_configs=21) is None
    # A task measured at one size has none either, and no size without log_n_rows.
    assert full_size_pool([r for r in mine if r.fidelity < 1.0], features[task_id]) is None
    assert pool_rows({"f1": 0.5}, 0.5) is None
    assert pool_rows({"log_n_rows": math.log(1000)}, 0.5) == 500


def test_the_validation_chooses_rules_for_whole_tables_apart(validated: ModelBundle) -> None:
    above, rules = validated.full_size_rules  # type: ignore[misc]
    assert above == SAMPLE
    # On samples a model rule beats every free one; on whole tables the default first
    # beats the samples' rule at k = 1 (beyond noise, so it replaces it there). Wherever a
    # whole-table rule differs from the samples' rule, it did better on the full-size pools.
    assert "default_then_portfolio" not in validated.set_rules.values()
    assert rules[1] == "default_then_portfolio"
    metrics = validated.metrics
    for k, rule in rules.items():
        sample_rule = validated.set_rules[max(key for key in validated.set_rules if key <= k)]
        full = f"validation.full_size.{rule}.regret@{k}"
        assert metrics[full] <= metrics[f"validation.full_size.{sample_rule}.regret@{k}"]
    assert metrics["validation.full_size.above_rows"] == SAMPLE
    assert metrics["validation.full_size.tasks"] == 36
    assert metrics["validation.full_size.default_then_portfolio.regret@1"] == pytest.approx(0.0)
    assert metrics["validation.full_size.expected_best.regret@1"] > 0.0


def test_requests_for_whole_tables_get_the_full_size_rules(validated: ModelBundle) -> None:
    recommender = validated.recommender()
    task = {"log_n_rows": math.log(20_000), "f1": 0.9}
    whole = recommender.suggest(task, k=3)  # the table's rows: 20,000
    assert config_hash(whole.suggestions[0].config) == config_hash(DEFAULT)
    sample = recommender.suggest(task, k=3, train_rows=SAMPLE)
    assert config_hash(sample.suggestions[0].config) != config_hash(DEFAULT)
    assert math.log10(float(sample.suggestions[0].config["C"])) > 0.5  # f1 = 0.9: a large C
    # A stated size decides as the table's rows do; a pool choice follows the same rule.
    stated = recommender.suggest(task, k=1, train_rows=5_000)
    assert config_hash(stated.suggestions[0].config) == config_hash(DEFAULT)
    pool = [DEFAULT, *sample_configs(CS, 9, method="random", seed=5)]
    assert recommender.choose(task, pool, 3, train_rows=20_000)[0] == 0
    assert recommender.choose(task, pool, 3, train_rows=SAMPLE)[0] != 0


def test_full_size_rules_survive_a_save_and_bad_ones_are_refused(
    validated: ModelBundle, tmp_path: Path
) -> None:
    validated.save(tmp_path / "sized.wsb")
    assert load_bundle(tmp_path / "sized.wsb").full_size_rules == validated.full_size_rules
    unsized = {k: v for k, v in validated.training.items() if k != "full_size_above_rows"}
    for training, message in (
        (validated.training | {"full_size_above_rows": "many"}, "a whole number >= 1"),
        (validated.training | {"full_size_above_rows": 0}, "a whole number >= 1"),
        (unsized, "need both"),
        (
            validated.training | {"set_rules_full_size": {"1": "oracle"}},
            "'oracle' is not one this warmstart knows",
        ),
    ):
        odd = ModelBundle(**{**validated.__dict__, "training": training})
        odd.save(tmp_path / "odd.wsb")
        with pytest.raises(FailedPreconditionError, match=message):
            load_bundle(tmp_path / "odd.wsb")


def test_pool_mode_measures_the_full_size_pools(
    world: tuple[dict[str, TaskFeatures], list[EvaluationRecord], dict[str, int]],
    tmp_path: Path,
) -> None:
    features, records, rows = world
    with RecordStore.open(f"sqlite:///{tmp_path / 'sized.db'}") as store:
        store.add_all(
            tasks=[
                Task(t, f"synthetic/{t}", TaskType.BINARY, "test", rows[t], 2, family=f"fam-{i}")
                for i, t in enumerate(features)
            ],
            spaces=[SPACE],
            records=records,
        )
        store.put_task_features(features.values())
        settings = EvalSettings(
            ks=(1, 3),
            n_folds=3,
            train=TrainSettings(surrogate=SMALL, validation_folds=3, leaf_rows=()),
        )
        result = evaluate_pool(store, SPACE.name, "test-size", settings)
    full = result.full_size_tasks
    assert len(full) == 36
    assert all(t.full_size_rows == rows[t.task_id] for t in full)
    # The default is each whole table's best: the default baseline has no regret there,
    # and the model, served the full-size rules, none either.
    assert result.mean_full_size_regret("default", 1) == pytest.approx(0.0)
    assert result.mean_full_size_regret("warmstart", 1) == pytest.approx(0.0)
    assert result.mean_regret("warmstart", 1) < result.mean_regret("default", 1)
    # Served the rules chosen for samples, it would have missed the default there.
    assert result.mean_full_size_regret("sample_rules", 1) > 0.01
    assert all(r.full_size is not None for r in result.fold_rules.values())
    report = write_pool_report(result, tmp_path / "out").read_text()
    assert "At the tasks' full size: 36 held-out tasks" in report
    assert "0 better, 36 the same, 0 worse" in report
    assert "Set rules served to requests above a size" in report
