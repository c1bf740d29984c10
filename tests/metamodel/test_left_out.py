"""Tasks without usable meta-features are named and left out by training and evaluation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from tests.metamodel.synthetic_world import NAMES, QUICK, SPACE, features, store_world, world
from warmstart.metamodel.bundle import TrainSettings, train_space
from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.evaluation import METHODS, EvalSettings, evaluate_pool, write_pool_report
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import TaskFeatures

VERSION = "test-1"
BLANK = "task-3-0"  # its features are all missing (an OpenML task without qualities)
BARE = "task-3-1"  # no features of VERSION at all


def _store(path: Path, n_tasks: int = 16) -> RecordStore:
    tasks, records = world(n_tasks, seed=3)
    store = RecordStore.open(f"sqlite:///{path}")
    store_world(store, tasks, records, per_family=2)
    described = features(tasks)
    described[BLANK] = TaskFeatures(BLANK, VERSION, NAMES, tuple(math.nan for _ in NAMES))
    del described[BARE]
    store.put_task_features(described.values())
    return store


def test_training_names_the_tasks_it_leaves_out(tmp_path: Path) -> None:
    with _store(tmp_path / "t.db") as store:
        trained = train_space(store, SPACE.name, VERSION, QUICK)
    assert dict(trained.left_out) == {
        BLANK: f"every meta-feature {VERSION!r} is missing (null or NaN)",
        BARE: f"no meta-features {VERSION!r}",
    }
    assert trained.task_names[BLANK] == f"synthetic/{BLANK}"
    assert trained.bundle.training["tasks"] == 14
    assert BLANK not in trained.bundle.index.task_ids


def test_training_with_no_usable_task_says_why(tmp_path: Path) -> None:
    with (
        _store(tmp_path / "t.db") as store,
        pytest.raises(FailedPreconditionError, match="none of the 16 tasks") as raised,
    ):
        train_space(store, SPACE.name, "openml-q1", QUICK)
    assert "no meta-features 'openml-q1'" in str(raised.value)
    assert "--feature-version" in str(raised.value)


def test_evaluation_skips_and_names_a_task_without_usable_features(tmp_path: Path) -> None:
    settings = EvalSettings(
        ks=(1, 3), n_folds=2, train=TrainSettings(surrogate=SurrogateParams(n_models=1))
    )
    with _store(tmp_path / "t.db") as store:
        result = evaluate_pool(store, SPACE.name, VERSION, settings)
    assert len(result.tasks) == 14
    assert result.left_out == {
        f"synthetic/{BLANK}": f"every meta-feature {VERSION!r} is missing (null or NaN)",
        f"synthetic/{BARE}": f"no meta-features {VERSION!r}",
    }
    report = write_pool_report(result, tmp_path / "out")
    text = report.read_text()
    assert f"- synthetic/{BLANK}: every meta-feature" in text
    assert "svm_like_pool_tasks.csv" in text
    with (tmp_path / "out" / "svm_like_pool_tasks.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["task_id"] for r in rows] == [t.task_id for t in result.tasks]
    first = result.tasks[0]
    for method in METHODS:
        assert float(rows[0][f"{method}@3"]) == first.regret[method][3]
    assert rows[0]["pool_size"] == str(first.pool_size)
