"""Plots, labels and tables shared by the evaluation reports (pool, live, seeding)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["METHOD_LABELS", "markdown_table", "plot_mean_regret", "plot_per_task"]

METHOD_LABELS = {
    "warmstart": "warmstart (ours)",
    "default": "library default",
    "random": "random",
    "single_best": "single best config",
    "greedy_portfolio": "greedy portfolio",
    "nearest_neighbour": "nearest-neighbour warm start",
    "flaml_zeroshot": "FLAML zero-shot",
    "flaml_space": "FLAML's space, sampled",
}
"""How the reports name each method."""


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table: the header, its rule, one line per row of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def plot_per_task(
    ours: Sequence[float],
    theirs: Sequence[float],
    path: Path,
    *,
    xlabel: str,
    ylabel: str,
) -> None:
    """Scatter one point per task, ours against a baseline's regret, with the diagonal.

    Args:
        ours: warmstart's regret per task (y axis).
        theirs: The baseline's regret on the same tasks (x axis).
        path: The PNG to write.
        xlabel: Label of the baseline's axis.
        ylabel: Label of warmstart's axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, x = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    figure, axis = plt.subplots(figsize=(4.8, 4.8), dpi=120)
    axis.scatter(x, y, s=14, alpha=0.7)
    top = max(float(x.max(initial=0)), float(y.max(initial=0)), 0.05)
    axis.plot([0, top], [0, top], color="grey", linewidth=1)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title("per task (below the line: warmstart better)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_mean_regret(values: Mapping[str, float], path: Path, *, title: str) -> None:
    """Horizontal bars of mean normalised regret, one per labelled method.

    Args:
        values: Mean regret by bar label, drawn top to bottom in this order;
            labels starting with ``"warmstart"`` are highlighted.
        path: The PNG to write.
        title: The plot's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(values)
    heights = [values[label] for label in labels]
    figure, axis = plt.subplots(figsize=(7, 0.45 * len(labels) + 1.6), dpi=120)
    colours = ["C0" if label.startswith("warmstart") else "C7" for label in labels]
    positions = np.arange(len(labels))[::-1]
    axis.barh(positions, heights, color=colours)
    for position, height in zip(positions, heights, strict=True):
        axis.text(height, position, f" {height:.3f}", va="center", fontsize=8)
    axis.set_yticks(positions, labels, fontsize=8)
    axis.set_xlabel("mean normalised regret (lower is better)")
    axis.set_xlim(0, max([*heights, 0.05]) * 1.2)
    axis.grid(alpha=0.3, axis="x")
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
