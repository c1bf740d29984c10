"""The training size as knowledge: records at several row caps, the surrogate's size input,
requests that say how many rows they will train on.

A synthetic world where the best ``C`` moves with the rows a config is trained on: on
small samples a small ``C`` wins, on whole tables a large one. Each task is evaluated
on a 200-row sample (fidelity 200 / n_rows) and on all its rows (fidelity 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.factories import ok_record
from tests.metamodel.synthetic_world import CS, SPACE
from warmstart.metamodel.bundle import ModelBundle, TrainSettings, train_from_records
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.portfolio import primary_records, score_matrix
from warmstart.metamodel.recommend import SuggestQuery
from warmstart.metamodel.spaces import config_hash, sample_configs
from warmstart.metamodel.surrogate import SIZE_INPUT, SurrogateParams, build_training_table
from warmstart.metamodel.types import ConfigValue, EvaluationRecord, TaskFeatures

NAMES = ("log_n_rows", "f1")
SAMPLE = 200
SMALL = SurrogateParams(n_models=3, n_estimators=80, config_rounds=30, min_child_samples=5)


def _score(config: dict[str, ConfigValue], rows: float) -> float:
    best_log_c = -2.0 if rows <= 500 else 2.0
    return 1.0 - 0.05 * (math.log10(float(config["C"])) - best_log_c) ** 2


def _world(n_tasks: int, seed: int) -> tuple[dict[str, TaskFeatures], list[EvaluationRecord]]:
    rng = np.random.default_rng(seed)
    configs = sample_configs(CS, 30, method="random", seed=seed)
    features, records = {}, []
    for i in range(n_tasks):
        task_id = f"sized-{seed}-{i}"
        n_rows = int(rng.integers(2_000, 50_000))
        features[task_id] = TaskFeatures(
            task_id, "test-size", NAMES, (math.log(n_rows), rng.random())
        )
        for fidelity in (SAMPLE / n_rows, 1.0):
            for config in configs:
                score = _score(config, fidelity * n_rows) + rng.normal(0, 0.005)
                records.append(ok_record(task_id, SPACE, config, score, fidelity=fidelity))
    return features, records


@pytest.fixture(scope="module")
def sized() -> ModelBundle:
    features, records = _world(30, seed=1)
    return train_from_records(
        SPACE,
        records,
        features,
        {t: t for t in features},
        "test-size",
        TrainSettings(surrogate=SMALL, validation_folds=0),
    )


def test_the_table_gives_each_record_the_rows_it_was_trained_on() -> None:
    features, records = _world(3, seed=2)
    table = build_training_table(records, features, ConfigEncoder(CS))
    assert table.feature_names[: table.n_meta] == (*NAMES, SIZE_INPUT)
    size = table.X[:, len(NAMES)]
    expected = [math.log(r.fidelity) + features[r.task_id].values[0] for r in records]
    # Rows are in task order, each task's records sorted: compare as multisets.
    assert np.allclose(np.sort(size), np.sort(expected))
    assert np.isclose(np.exp(size).min(), SAMPLE)
    for task_id, largest in table.task_sizes.items():
        assert largest == pytest.approx(features[task_id].values[0])  # the largest: all rows


def test_what_compares_configs_reads_one_fidelity_per_task() -> None:
    _, records = _world(2, seed=3)
    extra = [r for r in records if r.fidelity == 1.0][:5]
    kept = primary_records(records)
    # Both fidelities hold 30 configs: the larger wins the tie.
    assert {r.fidelity for r in kept} == {1.0}
    fewer = [r for r in records if r.fidelity < 1.0] + extra
    assert {r.fidelity for r in primary_records(fewer)} == {r.fidelity for r in fewer} - {1.0}
    assert score_matrix(records).scores.shape == (2, 30)


def test_suggestions_follow_the_rows_the_user_will_train_on(sized: ModelBundle) -> None:
    recommender = sized.recommender()
    task = {"log_n_rows": math.log(20_000), "f1": 0.5}
    whole = recommender.suggest(task, k=1).suggestions[0].config
    sample = recommender.suggest(task, k=1, train_rows=SAMPLE).suggestions[0].config
    assert math.log10(float(whole["C"])) > 0.5  # all 20,000 rows: a large C
    assert math.log10(float(sample["C"])) < -0.5  # 200 rows: a small C
    # The default is the table's rows; a batch answers each request as alone.
    stated = recommender.suggest(task, k=1, train_rows=20_000).suggestions[0].config
    assert config_hash(stated) == config_hash(whole)
    answers = recommender.suggest_many(
        [SuggestQuery(task, 1, train_rows=SAMPLE), SuggestQuery(task, 1)]
    )
    assert [config_hash(a.suggestions[0].config) for a in answers] == [  # type: ignore[union-attr]
        config_hash(sample),
        config_hash(whole),
    ]


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_train_rows_must_be_a_positive_count(sized: ModelBundle, bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="train_rows must be an integer >= 1"):
        sized.recommender().suggest({"log_n_rows": 9.0}, k=1, train_rows=bad)  # type: ignore[arg-type]


def test_a_feature_set_without_the_table_size_has_no_size_input() -> None:
    features, records = _world(8, seed=4)
    other = {t: TaskFeatures(t, "test-other", ("q1", "q2"), f.values) for t, f in features.items()}
    bundle = train_from_records(
        SPACE,
        records,
        other,
        {t: t for t in other},
        "test-other",
        TrainSettings(surrogate=SMALL, validation_folds=0),
    )
    assert SIZE_INPUT not in bundle.surrogate.feature_names
    assert bundle.recommender().suggest({"q1": 9.0, "q2": 0.5}, k=2).suggestions
