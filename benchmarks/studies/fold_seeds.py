"""Pool mode over fold seeds: is warmstart behind the best free baseline beyond the noise?

Reads the per-task CSVs that ``warmstart evaluate --seed S --out DIR/sS`` writes for
several fold seeds and, per space and k, compares warmstart's mean regret with the
best free baseline of each seed (default, single best config, greedy portfolio,
nearest-neighbour warm start; the best is picked after the fact, per seed). A cell is
*behind beyond noise* where the mean over seeds of (warmstart - best) minus two
standard errors is above 0, *ahead* where plus two standard errors is below 0.

The seeds redraw the folds, not the tasks: every seed holds out the same tasks, so their
spread says how much the choices made on inner folds move, not how much the figures would
move on other tasks. A task that every seed answers badly moves every seed's mean alike and
passes the seeds' test however rare such tasks are. So each cell also gets a verdict over
tasks: each task's difference (warmstart minus that seed's best baseline) averaged over
the seeds, with two standard errors over the tasks, and the task that adds most to the
difference, with the verdict the seeds give without it.

    python -m warmstart.benchmarks.studies.fold_seeds DIR/s0 DIR/s1 DIR/s2
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
    per_task: tuple[tuple[float, ...], ...] = ()
    """Each seed's per-task difference, warmstart minus that seed's best baseline (seeds x
    tasks, the tasks in :attr:`tasks`' order)."""
    tasks: tuple[str, ...] = ()
    """The task names, one per column of :attr:`per_task`."""

    @property
    def difference(self) -> tuple[float, float]:
        """Mean over seeds of warmstart minus the best baseline, and its standard error."""
        return _mean_error(np.subtract(self.warmstart, self.best))

    @property
    def verdict(self) -> str:
        """``behind``, ``ahead`` or ``within noise`` (two standard errors over the seeds)."""
        return _verdict(*self.difference, "one seed")

    @property
    def task_difference(self) -> tuple[float, float]:
        """Mean over tasks of each task's difference averaged over the seeds, and its
        standard error over the tasks (nan without per-task figures)."""
        if not self.tasks:
            return float("nan"), float("nan")
        return _mean_error(np.mean(self.per_task, axis=0))

    @property
    def task_verdict(self) -> str:
        """The verdict over tasks: ``behind``, ``ahead`` or ``within noise`` (two standard
        errors of the per-task differences)."""
        return _verdict(*self.task_difference, "no tasks")

    def largest(self) -> tuple[str, float, str]:
        """The task whose difference (averaged over the seeds) leans furthest the way the
        seeds' mean does, what it adds to the mean over tasks (its difference over the number
        of tasks), and the seeds' verdict without it.

        Raises:
            ValueError: The cell has no per-task figures.
        """
        if not self.tasks:
            raise ValueError(f"{self.space} at k = {self.k} has no per-task figures")
        by_task = np.mean(self.per_task, axis=0)
        index = int(np.argmax(by_task) if by_task.sum() >= 0 else np.argmin(by_task))
        without = np.delete(np.asarray(self.per_task, dtype=float), index, axis=1).mean(axis=1)
        added = float(by_task[index] / len(by_task))
        return self.tasks[index], added, _verdict(*_mean_error(without), "one seed")


def _mean_error(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of ``values`` (nan error for fewer than two)."""
    values = np.asarray(values, dtype=float)
    error = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return float(values.mean()), error


def _verdict(mean: float, error: float, without_error: str) -> str:
    """``behind`` or ``ahead`` where ``mean`` is beyond two ``error`` of 0, else ``within
    noise``; ``without_error`` where the error is not finite."""
    if not np.isfinite(error):
        return without_error
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
        tasks = _common_tasks(frames)
        for k in ks:
            ours, best, best_of, per_task = [], [], [], []
            for frame in frames:
                means = {m: float(frame[f"{m}@{k}"].mean()) for m in BASELINES}
                winner = min(BASELINES, key=lambda m: (means[m], BASELINES.index(m)))
                ours.append(float(frame[f"warmstart@{k}"].mean()))
                best.append(means[winner])
                best_of.append(winner)
                if tasks:
                    by_task = frame.set_index(frame["task_id"].astype(str)).loc[list(tasks)]
                    diff = by_task[f"warmstart@{k}"] - by_task[f"{winner}@{k}"]
                    per_task.append(tuple(float(v) for v in diff))
            names = _task_names(frames[0], tasks)
            cells.append(
                Cell(space, k, tuple(ours), tuple(best), tuple(best_of), tuple(per_task), names)
            )
    return cells


def _common_tasks(frames: Sequence[pd.DataFrame]) -> tuple[str, ...]:
    """The task ids of the first frame, where every frame holds exactly those tasks once
    (else none: the seeds then held out different tasks and per-task figures mean nothing)."""
    if any("task_id" not in f.columns for f in frames):
        return ()
    first = frames[0]["task_id"].astype(str)
    ids = set(first)
    if len(ids) != len(first):
        return ()
    for frame in frames[1:]:
        other = frame["task_id"].astype(str)
        if len(other) != len(first) or set(other) != ids:
            return ()
    return tuple(first)


def _task_names(frame: pd.DataFrame, tasks: Sequence[str]) -> tuple[str, ...]:
    """A readable name per task id (``task_name`` where the CSV has one)."""
    if not tasks or "task_name" not in frame.columns:
        return tuple(tasks)
    names = dict(zip(frame["task_id"].astype(str), frame["task_name"].astype(str), strict=True))
    return tuple(names[t] for t in tasks)


def markdown(cells: Sequence[Cell]) -> str:
    """The cells as a Markdown table."""
    lines = [
        "| space | k | warmstart (per seed) | best baseline (per seed) | "
        "warmstart - best, mean ± s.e. over seeds | verdict | s.e. over tasks | "
        "verdict over tasks | largest task (adds to the mean; seeds' verdict without it) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        mean, error = c.difference
        best = " / ".join(f"{v:.4f} ({LABELS[m]})" for v, m in zip(c.best, c.best_of, strict=True))
        verdict = f"**{c.verdict}**" if c.verdict == "behind" else c.verdict
        task_error = c.task_difference[1]
        if c.tasks:
            name, added, without = c.largest()
            largest = f"{name} ({added:+.4f}; {without})"
        else:
            largest = "-"
        lines.append(
            f"| {c.space} | {c.k} | {' / '.join(f'{v:.4f}' for v in c.warmstart)} | {best} | "
            f"{mean:+.4f} ± {error:.4f} | {verdict} | {task_error:.4f} | {c.task_verdict} | "
            f"{largest} |"
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
    with_tasks = [c for c in cells if c.tasks]
    if with_tasks:
        over = {v: sum(c.task_verdict == v for c in with_tasks) for v in verdicts}
        carried = sum(c.verdict == "behind" and c.largest()[2] != "behind" for c in with_tasks)
        lines.append(
            f"Over tasks: {over['behind']} behind, {over['ahead']} ahead, "
            f"{over['within noise']} within noise; {carried} of the seeds' 'behind' cells "
            "are not behind without their largest task."
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
