"""The fold-seeds study: warmstart against the best free baseline of each seed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from warmstart.benchmarks.studies.fold_seeds import main, read_cells

METHODS = ("warmstart", "default", "single_best", "greedy_portfolio", "nearest_neighbour")


def _write(folder: Path, space: str, means: dict[str, dict[int, float]]) -> None:
    """Two tasks per seed whose mean regret per method and k is ``means``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for shift in (-0.001, 0.001):
        row: dict[str, object] = {"task_id": f"t{shift}"}
        for method in METHODS:
            for k, value in means[method].items():
                row[f"{method}@{k}"] = value + shift
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / f"{space}_pool_tasks.csv", index=False)


def test_cells_compare_with_the_best_baseline_of_each_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = [tmp_path / f"s{seed}" for seed in range(3)]
    for seed, folder in enumerate(folders):
        noise = 0.001 * seed
        base = {m: {1: 0.10, 3: 0.05} for m in METHODS}
        # k = 1: warmstart ahead of every baseline; k = 3: the portfolio wins every seed.
        base["warmstart"] = {1: 0.05 + noise, 3: 0.06 + noise}
        base["greedy_portfolio"] = {1: 0.10, 3: 0.03 + noise}
        base["nearest_neighbour"] = {1: 0.08 - noise, 3: 0.05}
        _write(folder, "svm", base)
    _write(tmp_path / "s0", "knn", {m: {1: 0.1} for m in METHODS})  # not in every folder
    cells = read_cells(folders)
    assert [(c.space, c.k) for c in cells] == [("svm", 1), ("svm", 3)]
    first, third = cells
    assert first.best_of == ("nearest_neighbour",) * 3
    assert first.verdict == "ahead"
    assert third.best_of == ("greedy_portfolio",) * 3
    assert third.difference[0] == pytest.approx(0.03)
    assert third.verdict == "behind"
    main([str(f) for f in folders])
    out = capsys.readouterr().out
    assert "| svm | 3 | 0.0600 / 0.0610 / 0.0620 |" in out
    assert "2 cells: 1 behind beyond noise, 1 ahead, 0 within noise." in out


def test_folders_without_a_common_space_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a")])


def test_one_seed_gives_no_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "s0", "svm", {m: {1: 0.1} for m in METHODS})
    (cell,) = read_cells([tmp_path / "s0"])
    assert cell.verdict == "one seed"
    main([str(tmp_path / "s0")])
    assert "1 cells from one seed: no noise to compare with." in capsys.readouterr().out


def test_a_task_every_seed_answers_badly_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Twenty tasks where warmstart ties the portfolio, and one where every seed's warmstart
    # misses what the portfolio finds: the seeds agree (behind beyond their noise), the
    # tasks do not (within noise), and without that task the seeds see nothing.
    folders = [tmp_path / f"s{seed}" for seed in range(3)]
    for seed, folder in enumerate(folders):
        folder.mkdir()
        rows = []
        for task in range(21):
            row: dict[str, object] = {"task_id": f"id{task}", "task_name": f"task {task}"}
            for method in METHODS:
                row[f"{method}@3"] = 0.5
            row["greedy_portfolio@3"] = 0.02 + 0.001 * ((task + seed) % 3)
            row["warmstart@3"] = 0.9 if task == 7 else row["greedy_portfolio@3"]
            rows.append(row)
        # Each seed lists its tasks in another order, as a new fold draw does.
        frame = pd.DataFrame(rows).sample(frac=1.0, random_state=seed)
        frame.to_csv(folder / "lr_pool_tasks.csv", index=False)
    (cell,) = read_cells(folders)
    assert cell.verdict == "behind"
    mean, error = cell.task_difference
    # Task 7's portfolio scores 0.021 on average over the seeds; warmstart 0.9 on it.
    assert mean == pytest.approx(0.879 / 21)
    assert error == pytest.approx(mean)  # one task of 21 carries it all
    assert cell.task_verdict == "within noise"
    name, added, without = cell.largest()
    assert (name, without) == ("task 7", "within noise")
    assert added == pytest.approx(mean)
    main([str(f) for f in folders])
    out = capsys.readouterr().out
    assert "task 7 (+0.0419; within noise)" in out
    assert "1 of the seeds' 'behind' cells are not behind without their largest task" in out


def test_seeds_with_other_tasks_give_no_verdict_over_tasks(tmp_path: Path) -> None:
    for seed in range(2):
        _write(tmp_path / f"s{seed}", "svm", {m: {1: 0.1 + 0.01 * seed} for m in METHODS})
    other = pd.read_csv(tmp_path / "s1" / "svm_pool_tasks.csv")
    other.loc[0, "task_id"] = "elsewhere"
    other.to_csv(tmp_path / "s1" / "svm_pool_tasks.csv", index=False)
    (cell,) = read_cells([tmp_path / "s0", tmp_path / "s1"])
    assert cell.tasks == ()
    assert cell.task_verdict == "no tasks"
    with pytest.raises(ValueError, match="no per-task figures"):
        cell.largest()
