"""warmstart.benchmarks.studies.factor_model on a world where the best config follows the task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.metamodel.synthetic_world import (
    CS,
    SPACE,
    true_score,
    world,
    world_db,
)
from warmstart.benchmarks.studies.factor_model import FactorModel, main
from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.evaluation import spearman_or_nan
from warmstart.metamodel.spaces import sample_configs


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Train the factor models on one thread, as each pytest-xdist worker has one core of
    its own: torch's default of a thread per core makes two workers' threads wait on each
    other's cores, and the small networks train some twenty times slower (the same
    computation, each operation on one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_factor_model_ranks_configs_for_each_task_it_has_not_seen() -> None:
    rng = np.random.default_rng(0)
    configs = sample_configs(CS, 40, method="random", seed=0)
    train, test = rng.random((60, 4)), rng.random((10, 4))
    targets = np.array([[true_score(c, f) for c in configs] for f in train])
    targets[rng.random(targets.shape) < 0.2] = np.nan  # not every config on every task
    train[rng.random(train.shape) < 0.05] = np.nan  # and some meta-features missing
    model = FactorModel(ConfigEncoder(CS), rank=4, epochs=60).fit(train, configs, targets)
    predicted = [model.predict(f, configs) for f in test]
    truth = [np.array([true_score(c, f) for c in configs]) for f in test]
    rhos = [spearman_or_nan(p, t) for p, t in zip(predicted, truth, strict=True)]
    assert np.mean(rhos) > 0.8
    # The best config moves with the task, and so does the model's pick.
    assert len({int(np.argmax(p)) for p in predicted}) >= 3
    # Deterministic for a seed.
    again = FactorModel(ConfigEncoder(CS), rank=4, epochs=60).fit(train, configs, targets)
    np.testing.assert_allclose(again.predict(test[0], configs), predicted[0], rtol=1e-5)


@pytest.mark.slow
def test_the_study_chooses_inside_and_prints_each_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks, records = world(40, seed=3)
    db = world_db(tmp_path, tasks, records, per_family=2)
    args = ["--db", db, "--space", SPACE.name, "--feature-version", "test-1", "--folds", "3"]
    main([*args, "--inner-folds", "2"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{SPACE.name}: 40 held-out tasks, 3 folds"
    assert all(
        line.startswith(f"fold {i}: chosen on 2 inner folds: rank ")
        for i, line in enumerate(out[1:4])
    )
    rows = {line.split("|")[1].strip(): line.split("|")[2:6] for line in out[6:]}
    assert set(rows) == {"surrogate alone", "factor model alone", "blend, chosen inside"}
    for spearman, predicted, measured, regret in rows.values():
        assert -1 <= float(spearman) <= 1
        assert 0 <= float(regret) <= 1
        assert -1 <= float(predicted) <= 1
        assert -1 <= float(measured) <= 1
    # Where the best config follows the meta-features, every model ranks held-out tasks well.
    assert float(rows["blend, chosen inside"][0]) > 0.7


def test_one_inner_fold_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--db", "sqlite:///nowhere.db", "--inner-folds", "1"])
    assert "--inner-folds: must be at least 2, got 1" in capsys.readouterr().err
