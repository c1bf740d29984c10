"""Pool mode over fold seeds: is warmstart behind the best free baseline beyond the noise?

Reads the per-task CSVs that ``warmstart evaluate --seed S --out DIR/sS`` writes for
several fold seeds and, per space and k, compares warmstart's mean regret with the
best free baseline of each seed (default, single best config, greedy portfolio,
nearest-neighbour warm start; the best is picked after the fact, per seed). A cell is
*behind beyond noise* where the mean over seeds of (warmstart - best) minus two
standard errors is above 0, *ahead* where plus two standard errors is below 0.

    python -m warmstart.benchmarks.studies.fold_seeds DIR/s0 DIR/s1 DIR/s2 [--markdown]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

BASELINES = ("default", "single_best", "greedy_portfolio", "nearest_neighbour")
LABELS = {
    "default": "default",
    "single_best": "single best",
    "greedy_portfolio": "portfolio",
    "nearest_neighbour": "NN",
}
SUFFIX = "_pool_tasks.csv"


@dataclass(frozen=True)
class Cell:
    """One space and k over the seeds."""

    space: str
    k: int
    warmstart: tuple[float, ...]
    best: tuple[float, ...]
    best_of: tuple[str, ...]

    @property
    def difference(self) -> tuple[float, float]:
        """Mean over seeds of warmstart minus the best baseline, and its standard error."""
        diff = np.subtract(self.warmstart, self.best)
        error = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        return float(diff.mean()), error

    @property
    def verdict(self) -> str:
        """``behind``, ``ahead`` or ``within noise`` (two standard errors)."""
        mean, error = self.difference
        if not np.isfinite(error):
            return "one seed"
        if mean - 2 * error > 0:
            return "behind"
        if mean + 2 * error < 0:
            return "ahead"
        return "within noise"


def read_cells(folders: Sequence[Path]) -> list[Cell]:
    """The cells of every space whose per-task CSV is in all ``folders``, by space then k.

    Raises:
        ValueError: No space is in every folder, or a CSV lacks warmstart's columns.
    """
    spaces = sorted(
        set.intersection(
            *({p.name[: -len(SUFFIX)] for p in Path(f).glob(f"*{SUFFIX}")} for f in folders)
        )
    )
    if not spaces:
        raise ValueError(f"no space has a *{SUFFIX} in every one of {[str(f) for f in folders]}")
    cells = []
    for space in spaces:
        frames = [pd.read_csv(Path(f) / f"{space}{SUFFIX}") for f in folders]
        ks = sorted(int(c.split("@")[1]) for c in frames[0].columns if c.startswith("warmstart@"))
        if not ks:
            raise ValueError(f"{space}{SUFFIX} has no warmstart@k columns")
        for k in ks:
            ours, best, best_of = [], [], []
            for frame in frames:
                means = {m: float(frame[f"{m}@{k}"].mean()) for m in BASELINES}
                winner = min(BASELINES, key=lambda m: (means[m], BASELINES.index(m)))
                ours.append(float(frame[f"warmstart@{k}"].mean()))
                best.append(means[winner])
                best_of.append(winner)
            cells.append(Cell(space, k, tuple(ours), tuple(best), tuple(best_of)))
    return cells


def markdown(cells: Sequence[Cell]) -> str:
    """The cells as a Markdown table."""
    lines = [
        "| space | k | warmstart (per seed) | best baseline (per seed) | "
        "warmstart - best, mean ± s.e. | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for c in cells:
        mean, error = c.difference
        best = " / ".join(f"{v:.4f} ({LABELS[m]})" for v, m in zip(c.best, c.best_of, strict=True))
        verdict = f"**{c.verdict}**" if c.verdict == "behind" else c.verdict
        lines.append(
            f"| {c.space} | {c.k} | {' / '.join(f'{v:.4f}' for v in c.warmstart)} | {best} | "
            f"{mean:+.4f} ± {error:.4f} | {verdict} |"
        )
    verdicts = ("behind", "ahead", "within noise", "one seed")
    counts = {v: sum(c.verdict == v for c in cells) for v in verdicts}
    lines.append("")
    if counts["one seed"]:
        lines.append(f"{len(cells)} cells from one seed: no noise to compare with.")
    else:
        lines.append(
            f"{len(cells)} cells: {counts['behind']} behind beyond noise, "
            f"{counts['ahead']} ahead, {counts['within noise']} within noise."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table for the given seed folders."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="one evaluate --out per fold seed")
    args = parser.parse_args(argv)
    try:
        cells = read_cells(args.folders)
    except (ValueError, OSError, KeyError) as exc:
        parser.error(str(exc))
    print(markdown(cells))


if __name__ == "__main__":
    main()
