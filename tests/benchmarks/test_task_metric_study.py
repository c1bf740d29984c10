"""warmstart.benchmarks.studies.task_metric on a world where the best config follows the task.

In the synthetic world the best ``log10(C)`` follows the first meta-feature and the best
kernel the second; the other two say nothing. A distance learned from the tasks'
measured scores must weight the first two, the inner folds must choose it there, and
keep equal weights where every task ranks the configs alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.metamodel.synthetic_world import NAMES, SPACE, world, world_db
from warmstart.benchmarks.studies.task_metric import (
    choose_metric,
    fit_metric_weights,
    main,
    shrunk,
)
from warmstart.metamodel.portfolio import score_matrix
from warmstart.metamodel.recommend import TaskIndex


def _standardised(n_tasks: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The world's tasks as the task index standardises them, and their normalised scores."""
    tasks, records = world(n_tasks, seed=seed)
    matrix = score_matrix(records)
    index = TaskIndex.build(NAMES, {t: tuple(f) for t, f in tasks.items()}, {})
    return index.matrix[[index.row(t) for t in matrix.task_ids]], matrix.scores


def test_the_fitted_weights_go_to_the_features_that_move_the_ranking() -> None:
    x, scores = _standardised(60, seed=3)

    weights = fit_metric_weights(x, scores)

    assert weights.mean() == pytest.approx(1.0)
    assert (weights >= 0).all()
    assert weights[0] + weights[1] > 5 * (weights[2] + weights[3])


def test_inner_folds_choose_the_learned_distance_where_it_finds_better_neighbours() -> None:
    x, scores = _standardised(60, seed=4)

    choice = choose_metric(x, scores, np.arange(len(x)) % 3)

    assert choice is not None
    assert choice.shrink < 1.0
    gain, error = choice.gain[choice.shrink]
    assert gain > error > 0
    assert choice.spearman[choice.shrink] > choice.spearman[1.0]
    assert choice.n_tasks == 60


def test_equal_weights_stay_where_every_task_ranks_the_configs_alike() -> None:
    # One ranking for every task (plus noise): no distance finds better neighbours.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(45, 4))
    scores = np.linspace(0, 1, 30)[None, :] + rng.normal(0, 0.05, size=(45, 30))

    choice = choose_metric(x, scores, np.arange(45) % 3)

    assert choice is not None
    assert choice.shrink == 1.0


def test_without_two_folds_nothing_is_chosen() -> None:
    x, scores = _standardised(12, seed=5)
    assert choose_metric(x, scores, np.zeros(12, dtype=int)) is None


def test_shrinking_moves_the_weights_toward_equal() -> None:
    weights = np.array([3.0, 1.0, 0.0, 0.0])
    assert shrunk(weights, 1.0).tolist() == [1.0] * 4
    assert shrunk(weights, 0.0).tolist() == weights.tolist()
    assert shrunk(weights, 0.5).tolist() == [2.0, 1.0, 0.5, 0.5]


def test_the_study_compares_both_distances_on_the_held_out_tasks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks, records = world(40, seed=8)
    db = world_db(tmp_path, tasks, records, per_family=2)

    main(["--db", db, "--space", SPACE.name, "--feature-version", "test-1"])

    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{SPACE.name}: 40 held-out tasks in 5 family folds, fold seed 0"
    chosen = [line for line in out if line.startswith("fold ")]
    assert len(chosen) == 5
    assert sum("shrink 1 chosen" not in line for line in chosen) >= 3
    rows = {
        tuple(cell.strip() for cell in line.strip("|").split("|")[:2]): line
        for line in out
        if line.startswith("| ") and "---" not in line
    }
    for rule in ("nearest-neighbour warm start", "local portfolio (32 nearest)"):
        for distance in ("plain", "learned", "learned - plain"):
            assert (rule, distance) in rows
    spearman = next(line for line in out if line.startswith("neighbours' Spearman"))
    found = re.search(r"plain (\d\.\d+), learned (\d\.\d+)", spearman)
    assert found is not None
    plain, learned = float(found[1]), float(found[2])
    assert learned > plain
    weights = next(line for line in out if line.startswith("weights fitted"))
    assert weights.split(": ")[1].split(",")[0].split()[0] in ("f0", "f1")
