"""warmstart.benchmarks.studies.surrogate_settings on the synthetic world.

The study makes training's leaf-size choice on each outer fold's training tasks and
compares the chosen size with 20 rows on the held-out tasks; its output must say what each
fold chose among the candidates and compare the two on the same tasks.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.metamodel.synthetic_world import SPACE, world, world_db
from warmstart.benchmarks.studies.surrogate_settings import main, paired
from warmstart.metamodel.bundle import LEAF_ROWS


def test_the_study_reports_each_folds_choice_and_both_leaf_sizes_on_the_same_tasks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks, records = world(120, seed=11)
    db = world_db(tmp_path, tasks, records, per_family=4)

    main(["--db", db, "--space", SPACE.name, "--feature-version", "test-1", "--folds", "2"])

    out = capsys.readouterr().out.splitlines()
    folds = [line for line in out if line.startswith("fold ")]
    assert len(folds) == 2
    chosen = []
    for line in folds:
        figures = dict(re.findall(r"(\d+) (-?\d\.\d{3})", line.split("chosen:")[0]))
        assert sorted(int(rows) for rows in figures) == sorted(LEAF_ROWS)
        assert all(-1.0 <= float(value) <= 1.0 for value in figures.values())
        rows = int(line.split("chosen: ")[1])
        best = max(float(value) for value in figures.values())
        assert float(figures[str(rows)]) == best
        chosen.append(rows)
    assert out[2] == f"{SPACE.name}: 120 held-out tasks, 2 folds, fold seed 0"
    table = {line.split("|")[1].strip(): line for line in out if line.startswith("| ")}
    assert {"20 rows", "chosen inside"} <= set(table)
    difference = next(line for line in out if line.startswith("chosen minus 20 rows"))
    gain = float(re.search(r"Spearman ([+-]\d\.\d+)", difference)[1])  # type: ignore[index]
    if chosen == [20, 20]:
        assert gain == 0.0
        assert table["20 rows"].split("|")[2:] == table["chosen inside"].split("|")[2:]


def test_paired_differences_skip_unmeasured_tasks() -> None:
    mean, error = paired([0.1, np.nan, 0.3, 0.5], [0.2, 0.9, 0.5, 0.5])

    assert mean == pytest.approx(0.1)
    assert error == pytest.approx(np.std([0.1, 0.2, 0.0], ddof=1) / np.sqrt(3))
    assert np.isnan(paired([0.1], [0.2])[0])
