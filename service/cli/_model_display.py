"""How ``warmstart model info`` prints a bundle: its training summary, and its validation as
each rule's inner regret per k."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rich.table import Table

__all__ = ["FULL_SIZE", "shown_training", "validation_table"]

_PER_TASK = ("task_log_train_rows",)
"""Training entries with one value per training task: counted in the text view."""


def shown_training(training: Mapping[str, Any]) -> dict[str, Any]:
    """The bundle's training summary with its per-task maps counted, not listed."""
    return {
        key: f"<{len(value)} tasks; --json lists them>" if key in _PER_TASK else value
        for key, value in training.items()
    }


_CELL = re.compile(r"^(?P<rule>[a-z_+]+)\.regret@(?P<k>\d+)$")
FULL_SIZE = "validation.full_size."
"""The prefix of the figures measured on the inner folds' full-size pools."""


def validation_table(
    metrics: Mapping[str, float],
    served: Mapping[int, str],
    *,
    prefix: str = "validation.",
    title: str = "validation",
) -> Table:
    """The inner folds' mean regret of every set rule at every k (the metrics under
    ``prefix``), the served rule's cell starred; the procedures' held-out regrets and the
    counts go in the caption."""
    mine = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
    cells: dict[str, dict[int, float]] = {}
    for key, value in mine.items():
        found = _CELL.match(key)
        if found and found["rule"] != "served":
            cells.setdefault(found["rule"], {})[int(found["k"])] = value
    ks = sorted({k for by_k in cells.values() for k in by_k})
    procedures = ", ".join(
        f"{key.removeprefix('procedure.')} {value:.4f}"
        for key, value in sorted(mine.items())
        if key.startswith("procedure.")
    )
    above = mine.get("above_rows")
    caption = (
        f"{mine.get('tasks', 0):.0f} tasks in {mine.get('folds', 0):.0f} inner family folds"
        + (f", served above {above:,.0f} rows" if above is not None else "")
        + "; * served"
        + (f"; held-out regret by procedure: {procedures}" if procedures else "")
    )
    table = Table("set rule", *(f"regret@{k}" for k in ks), title=title, caption=caption)
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
