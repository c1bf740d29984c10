"""How ``warmstart model info`` prints a bundle: its training summary, and its validation as
each rule's inner regret per k."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rich.table import Table

__all__ = ["shown_training", "validation_table"]

_PER_TASK = ("task_log_train_rows",)
"""Training entries with one value per training task: counted in the text view."""


def shown_training(training: Mapping[str, Any]) -> dict[str, Any]:
    """The bundle's training summary with its per-task maps counted, not listed."""
    return {
        key: f"<{len(value)} tasks; --json lists them>" if key in _PER_TASK else value
        for key, value in training.items()
    }


_CELL = re.compile(r"^validation\.(?P<rule>.+)\.regret@(?P<k>\d+)$")


def validation_table(metrics: Mapping[str, float], served: Mapping[int, str]) -> Table:
    """The inner folds' mean regret of every set rule at every k, the served rule's cell
    starred; the procedures' held-out regrets and the counts go in the caption."""
    cells: dict[str, dict[int, float]] = {}
    for key, value in metrics.items():
        found = _CELL.match(key)
        if found and found["rule"] != "served":
            cells.setdefault(found["rule"], {})[int(found["k"])] = value
    ks = sorted({k for by_k in cells.values() for k in by_k})
    procedures = ", ".join(
        f"{key.removeprefix('validation.procedure.')} {value:.4f}"
        for key, value in sorted(metrics.items())
        if key.startswith("validation.procedure.")
    )
    caption = (
        f"{metrics.get('validation.tasks', 0):.0f} tasks in "
        f"{metrics.get('validation.folds', 0):.0f} inner family folds; * served"
        + (f"; held-out regret by procedure: {procedures}" if procedures else "")
    )
    table = Table("set rule", *(f"regret@{k}" for k in ks), title="validation", caption=caption)
    for rule in sorted(cells):
        table.add_row(
            rule,
            *(
                ""
                if k not in cells[rule]
                else f"{cells[rule][k]:.4f}{' *' if served.get(k) == rule else ''}"
                for k in ks
            ),
        )
    return table
