"""The fit-time model: slower with more rows and classes, and honest about its errors.

A synthetic world whose fit times grow with the rows, the classes and ``C``, with
log-normal noise, as measured times do. The model's margin (how many times its
prediction a held-out fit may take) is measured when it is trained and applied
where a request states a time limit.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.factories import ok_record
from tests.metamodel.synthetic_world import CS, SPACE
from warmstart.metamodel.bundle import ModelBundle, TrainSettings, load_bundle, train_from_records
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.spaces import sample_configs
from warmstart.metamodel.surrogate import (
    FIT_TIME_QUANTILE,
    SIZE_INPUT,
    Surrogate,
    SurrogateParams,
    build_training_table,
)
from warmstart.metamodel.types import EvaluationRecord, TaskFeatures

NAMES = ("log_n_rows", "n_classes", "f1")
SMALL = SurrogateParams(n_models=2, n_estimators=60, config_rounds=20, min_child_samples=5)


def _seconds(rows: int, classes: float, c: float) -> float:
    return 0.05 + 2e-4 * rows * max(classes, 1.0) * (1.0 + math.log10(c) + 3.0) / 4.0


def _world(
    n_tasks: int, seed: int, noise: float
) -> tuple[dict[str, TaskFeatures], list[EvaluationRecord]]:
    rng = np.random.default_rng(seed)
    configs = sample_configs(CS, 20, method="random", seed=seed)
    features, records = {}, []
    for i in range(n_tasks):
        task_id = f"timed-{seed}-{i}"
        rows = int(rng.integers(200, 5_000))
        classes = float(rng.choice([2.0, 3.0, 5.0, 10.0]))
        features[task_id] = TaskFeatures(
            task_id, "test-time", NAMES, (math.log(rows), classes, rng.random())
        )
        for config in configs:
            seconds = _seconds(rows, classes, float(config["C"])) * math.exp(rng.normal(0, noise))
            record = ok_record(task_id, SPACE, config, float(rng.random()))
            records.append(replace(record, fit_seconds=seconds))
    return features, records


@pytest.fixture(scope="module")
def timed() -> ModelBundle:
    features, records = _world(40, seed=3, noise=0.5)
    return train_from_records(
        SPACE,
        records,
        features,
        {t: t for t in features},
        "test-time",
        TrainSettings(surrogate=SMALL, validation_folds=0),
    )


def test_the_margin_covers_the_noise_and_is_shown(timed: ModelBundle) -> None:
    margin = timed.surrogate.fit_time_margin
    # Log-normal noise of sigma 0.5 alone puts the 90th percentile at exp(0.64) = 1.9.
    assert 1.5 < margin < 20.0
    assert timed.metrics["fit_time.margin"] == margin
    assert FIT_TIME_QUANTILE == 0.9


def test_the_margin_survives_a_round_trip_and_old_bundles_have_none(
    timed: ModelBundle,
) -> None:
    data = timed.surrogate.to_dict()
    assert Surrogate.from_dict(data).fit_time_margin == timed.surrogate.fit_time_margin
    del data["fit_time_margin"]
    assert Surrogate.from_dict(data).fit_time_margin == 1.0


def test_without_noise_the_margin_is_small() -> None:
    margins = []
    for noise in (0.0, 0.5):
        features, records = _world(40, seed=4, noise=noise)
        table = build_training_table(records, features, ConfigEncoder(CS))
        margins.append(Surrogate.fit(table, SMALL).fit_time_margin)
    assert 1.0 <= margins[0] < margins[1]


def test_predicted_fit_time_never_falls_with_more_rows_or_classes(timed: ModelBundle) -> None:
    surrogate = timed.surrogate
    names = list(surrogate.feature_names)
    assert names[len(NAMES)] == SIZE_INPUT
    config = ConfigEncoder(CS).encode(sample_configs(CS, 5, method="random", seed=9))
    for row in config:
        base = np.concatenate([[math.log(2_000), 3.0, 0.5, math.log(2_000)], row])
        sizes = np.log(np.geomspace(100, 1_000_000, 25))  # far past the largest trained
        grid = np.tile(base, (len(sizes), 1))
        grid[:, names.index(SIZE_INPUT)] = sizes
        assert np.all(np.diff(surrogate.predict_fit_seconds(grid)) >= 0)
        classes = np.tile(base, (6, 1))
        classes[:, names.index("n_classes")] = [2, 3, 5, 10, 30, 100]
        assert np.all(np.diff(surrogate.predict_fit_seconds(classes)) >= 0)


def test_a_time_limit_keeps_only_configs_whose_margin_fits(timed: ModelBundle) -> None:
    recommender = timed.recommender()
    margin = timed.surrogate.fit_time_margin
    task = {"log_n_rows": math.log(3_000), "n_classes": 5.0, "f1": 0.5}
    free = recommender.suggest(task, k=5).suggestions
    slowest = max(s.predicted_fit_seconds for s in free)
    limit = slowest * (1.0 + margin) / 2.0  # between the prediction and its margin
    limited = recommender.suggest(task, k=5, max_fit_seconds=limit).suggestions
    assert limited
    slow = next(s.config for s in free if s.predicted_fit_seconds == slowest)
    assert slow not in [s.config for s in limited]  # predicted within the limit, not its margin
    for suggestion in limited:
        assert suggestion.predicted_fit_seconds * margin <= limit * (1 + 1e-9)
    fastest = min(s.predicted_fit_seconds for s in free)
    with pytest.raises(FailedPreconditionError, match=r"may be [0-9.]+ times too fast"):
        recommender.suggest(task, k=5, max_fit_seconds=fastest * 1e-3)


@pytest.mark.parametrize("bad", [0.5, "3", None, True, float("nan"), float("inf")])
def test_a_bundle_with_a_broken_margin_is_refused(
    timed: ModelBundle, tmp_path: Path, bad: object
) -> None:
    path = tmp_path / "model.wsb"
    timed.save(path)
    data = json.loads(gzip.decompress(path.read_bytes()))
    data["surrogate"]["fit_time_margin"] = bad
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(
        FailedPreconditionError, match="fit-time margin must be a finite number >= 1"
    ):
        load_bundle(path)
