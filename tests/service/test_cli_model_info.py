"""``warmstart model info`` on the shipped bundles: the validation behind the served rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warmstart.metamodel.bundle import load_bundle
from warmstart.service.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.mark.parametrize("space", ["lightgbm", "logistic_regression"])
def test_info_shows_each_rules_inner_regret_and_stars_the_served_ones(space: str) -> None:
    path = REPO / "kb" / "models" / f"{space}.wsb"
    bundle = load_bundle(path)
    shown = runner.invoke(app, ["model", "info", str(path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    # The per-task training sizes are counted, not listed: --json keeps them.
    tasks = bundle.training["tasks"]
    assert f"'task_log_train_rows': '<{tasks} tasks; --json lists them>'" in shown.output
    assert "validation.top_predicted.regret@1" not in shown.output
    header = next(line for line in lines if "set rule" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")][1:] == [
        "regret@1",
        "regret@3",
        "regret@5",
        "regret@10",
    ]
    metrics = bundle.metrics
    for k, rule in bundle.set_rules.items():
        row = next(line for line in lines if line.startswith(f"│ {rule} "))
        assert f"{metrics[f'validation.{rule}.regret@{k}']:.4f} *" in row
    stars = sum(line.count(" *") for line in lines if line.startswith("│"))
    full_size = bundle.full_size_rules
    assert stars == len(bundle.set_rules) + (0 if full_size is None else len(full_size[1]))
    assert f"{tasks} tasks in 3 inner family folds; * served" in shown.output
    if full_size is not None:  # a second table: the rules served above a size
        above, rules = full_size
        assert "validation at full size" in shown.output
        measured = metrics["validation.full_size.tasks"]
        caption = f"{measured:.0f} tasks in 3 inner family folds, served above {above:,} rows"
        assert caption in shown.output
        for k, rule in rules.items():
            cell = f"{metrics[f'validation.full_size.{rule}.regret@{k}']:.4f} *"
            assert any(line.startswith(f"│ {rule} ") and cell in line for line in lines)
    # The JSON keeps every figure.
    full = json.loads(runner.invoke(app, ["model", "info", str(path), "--json"]).stdout)
    assert len(full["training"]["task_log_train_rows"]) == tasks
    assert full["metrics"] == pytest.approx(metrics)
