"""`warmstart demo`: describe, suggest, train and compare on a real PMLB table, in-process."""

from __future__ import annotations

import math
from pathlib import Path

from typer.testing import CliRunner

from tests.factories import require_pmlb
from warmstart.service.cli import app

runner = CliRunner()
K = 2


def _table_rows(output: str) -> list[list[str]]:
    """The result table's rows: those whose first cell is ``default`` or ``#N``."""
    labels = {"default", *(f"#{i}" for i in range(1, K + 1))}
    rows = [line.split() for line in output.splitlines()]
    return [cells for cells in rows if cells and cells[0] in labels]


def test_demo_trains_the_default_and_k_suggestions_on_iris() -> None:
    iris = require_pmlb() / "iris.tsv.gz"
    result = runner.invoke(
        app,
        ["demo", "--data", str(iris), "--target", "target", "-k", str(K), "--cv-folds", "2"],
    )
    assert result.exit_code == 0, result.output
    rows = _table_rows(result.output)
    assert [r[0] for r in rows] == ["default", "#1", "#2"], result.output
    for row in rows:
        predicted, measured, fit = (float(v) for v in row[-3:])
        assert math.isfinite(predicted), row
        assert math.isfinite(fit), row
        assert 0.5 <= measured <= 1.0, row  # a finite ROC AUC on iris (NaN fails this too)
    assert "measured ROC AUC" in result.output
    assert "2-fold CV, rows capped at 2,000, seed 0" in result.output
    assert "best suggestion #" in result.output
    # iris is one of the shipped model's training tasks: the demo must say so.
    assert "one of the model's training tasks" in result.output


def test_demo_with_a_missing_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = runner.invoke(app, ["demo", "--data", str(missing)])
    assert result.exit_code != 0
    assert "no such file" in result.output
    assert str(missing) in result.output
