"""The surrogate's leaf size chosen on inner folds (:mod:`warmstart.metamodel.bundle._leaf_choice`).

On the synthetic world of :mod:`tests.metamodel.synthetic_world`: with recommenders whose
quality is known (one knows each task's true scores, the others add noise), the choice
must find the one that ranks the held-out tasks' configs right; and real training must
record what it chose, serve it, and make no choice on too few tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from tests.metamodel.synthetic_world import NAMES, SPACE, features, true_score, world
from warmstart.metamodel.bundle import (
    ModelBundle,
    TrainSettings,
    choose_leaf_rows,
    inner_folds,
    load_bundle,
    train_from_records,
)
from warmstart.metamodel.bundle._leaf_choice import MIN_TASKS
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import ConfigValue, EvaluationRecord

SMALL = SurrogateParams(n_models=2, n_estimators=40, config_rounds=20, min_child_samples=5)


class _Known:
    """A stand-in recommender: each config's true score on the task, plus noise of ``noise``."""

    def __init__(self, noise: float, seed: int) -> None:
        self.noise, self.rng = noise, np.random.default_rng(seed)

    def predict(
        self,
        asked: Mapping[str, float],
        configs: Sequence[Mapping[str, ConfigValue]],
        train_rows: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        f = np.array([asked[name] for name in NAMES])
        scores = np.array([true_score(dict(c), f) for c in configs])
        noisy = scores + self.rng.normal(0.0, self.noise, len(scores)) if self.noise else scores
        return noisy, np.zeros(len(scores))


def _families(task_ids: Sequence[str]) -> dict[str, str]:
    return {t: f"family-{i % 12}" for i, t in enumerate(sorted(task_ids))}


def test_the_leaf_size_whose_model_ranks_held_out_tasks_best_is_chosen() -> None:
    tasks, records = world(72, seed=5)
    folds = inner_folds(records, features(tasks), _families(list(tasks)), 3, 0)
    assert folds is not None
    noise = {5: 0.2, 60: 0.0, 150: 0.1}
    trained: list[int] = []

    def train(kept: list[EvaluationRecord], rows: int) -> Recommender:
        trained.append(rows)
        return cast(Recommender, _Known(noise[rows], seed=rows))

    choice = choose_leaf_rows(folds, features(tasks), 5, (60, 150, 5), train)

    assert choice is not None
    assert choice.min_child_samples == 60
    assert choice.n_tasks == 72
    assert set(choice.spearman) == {5, 60, 150}
    assert choice.spearman[60] > choice.spearman[150] > choice.spearman[5]
    # Each candidate trained once per inner fold, the own setting (listed twice) once.
    assert sorted(trained) == sorted([5, 60, 150] * 3)
    assert choice.metrics()["surrogate.leaf_rows"] == 60.0
    assert choice.metrics()["surrogate.leaf_rows.150.spearman"] == choice.spearman[150]


def test_a_tie_keeps_the_surrogates_own_leaf_size() -> None:
    tasks, records = world(66, seed=6)
    folds = inner_folds(records, features(tasks), _families(list(tasks)), 3, 0)
    assert folds is not None

    choice = choose_leaf_rows(
        folds, features(tasks), 20, (400, 60), lambda kept, rows: cast(Recommender, _Known(0, 0))
    )

    assert choice is not None
    assert choice.min_child_samples == 20
    assert len(set(choice.spearman.values())) == 1


def test_too_few_tasks_make_no_choice() -> None:
    tasks, records = world(MIN_TASKS - 1, seed=7)
    folds = inner_folds(records, features(tasks), _families(list(tasks)), 3, 0)
    assert folds is not None

    choice = choose_leaf_rows(
        folds, features(tasks), 20, (60,), lambda kept, rows: cast(Recommender, _Known(0, 0))
    )

    assert choice is None


def _train(n_tasks: int, seed: int, leaf_rows: tuple[int, ...]) -> ModelBundle:
    tasks, records = world(n_tasks, seed=seed)
    settings = TrainSettings(surrogate=SMALL, leaf_rows=leaf_rows)
    return train_from_records(
        SPACE,
        records,
        features(tasks),
        {t: t for t in tasks},
        "test-1",
        settings,
        families=_families(list(tasks)),
    )


def test_training_serves_the_chosen_leaf_size_and_records_why(tmp_path: Path) -> None:
    bundle = _train(66, seed=8, leaf_rows=(40, 5))
    metrics = bundle.metrics
    chosen = int(metrics["surrogate.leaf_rows"])
    figures = {rows: metrics[f"surrogate.leaf_rows.{rows}.spearman"] for rows in (5, 40)}

    assert chosen == max(figures, key=lambda rows: (figures[rows], rows == 5))
    assert metrics["surrogate.leaf_rows.tasks"] == 66
    assert all(-1.0 <= v <= 1.0 for v in figures.values())
    assert bundle.surrogate.params.min_child_samples == chosen
    # The set rules were chosen too, and the choice survives a save and a load.
    assert metrics["validation.tasks"] == 66
    bundle.save(tmp_path / "model.wsb")
    loaded = load_bundle(tmp_path / "model.wsb")
    assert loaded.surrogate.params.min_child_samples == chosen
    assert loaded.metrics["surrogate.leaf_rows"] == chosen


def test_no_leaf_choice_without_enough_tasks_or_candidates() -> None:
    few = _train(30, seed=9, leaf_rows=(40,))
    none = _train(66, seed=10, leaf_rows=())

    for bundle in (few, none):
        assert not any(k.startswith("surrogate.leaf_rows") for k in bundle.metrics)
        assert bundle.surrogate.params.min_child_samples == 5
        assert "validation.tasks" in bundle.metrics


@pytest.mark.parametrize("bad", [(0,), (-5,), (True,), (20, 2.5)])
def test_bad_leaf_sizes_are_refused(bad: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="leaf_rows must be integers >= 1"):
        TrainSettings(leaf_rows=bad)
