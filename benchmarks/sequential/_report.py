"""The sequential evaluation written out: per-task CSV, JSON summary, plot, Markdown."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from warmstart.benchmarks.sequential._types import SequentialResult, changed_settings
from warmstart.metamodel.evaluation import markdown_table

__all__ = ["ARM_LABELS", "write_sequential_report"]

ARM_LABELS = {
    "warmstart": "warmstart ask/tell loop (k = 1 per trial)",
    "tpe_cold": "Optuna TPE, cold",
    "tpe_seeded": "Optuna TPE seeded with warmstart's top 10",
    "flaml_cfo": "FLAML CFO from FLAML's zero-shot config",
    "random": "random search",
}
_MARKS = (1, 3, 5, 10, 20, 30, 50)


def _stem(result: SequentialResult) -> str:
    suffix = "_live" if result.mode == "live" else ""
    return f"{result.space_name}_sequential{suffix}"


def _label(result: SequentialResult, arm: str) -> str:
    if arm == "tpe_seeded":
        return f"Optuna TPE seeded with warmstart's top {result.settings.k_seed}"
    if arm == "flaml_cfo" and result.space_name != "lightgbm":
        return "FLAML CFO from the space's default config"
    return ARM_LABELS[arm]


def _write_csv(result: SequentialResult, path: Path) -> None:
    """One row per task and arm: best-so-far regret after each trial, mean over repeats."""
    n = result.settings.n_trials
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        header = ["task_id", "name", "family", "fold", "arm", "repeats"]
        writer.writerow(header + [f"trial_{t + 1}" for t in range(n)])
        for run in result.tasks:
            for arm in result.arms:
                writer.writerow(
                    [run.task_id, run.name, run.family, run.fold, arm, len(run.curves[arm])]
                    + [f"{v:.4f}" for v in run.mean_curve(arm)]
                )


def _plot(result: SequentialResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    trials = np.arange(1, result.settings.n_trials + 1)
    for arm in result.arms:
        mean, error = result.mean(arm), result.stderr(arm)
        width = 2.6 if arm == "warmstart" else 1.6
        axis.plot(trials, mean, linewidth=width, label=_label(result, arm))
        axis.fill_between(trials, np.maximum(mean - error, 1e-5), mean + error, alpha=0.18)
    axis.set_yscale("log")
    axis.set_xlabel("trial")
    axis.set_ylabel("normalised regret of the best so far\n(mean over tasks, ± 1 s.e.)")
    axis.grid(alpha=0.3, which="both")
    what = "surrogate benchmarks" if result.mode == "surrogate" else "live training"
    axis.set_title(
        f"{result.space_name}, {what}: {len(result.tasks)} held-out tasks x "
        f"{result.settings.repeats} seeds"
    )
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _summary(result: SequentialResult, commit: str, command: str) -> dict[str, Any]:
    settings = result.settings
    return {
        "space": result.space_name,
        "mode": result.mode,
        "commit": commit,
        "command": command,
        "protocol": result.protocol,
        "settings": {
            "n_trials": settings.n_trials,
            "k_seed": settings.k_seed,
            "repeats": settings.repeats,
            "max_tasks": settings.max_tasks,
            "n_folds": settings.n_folds,
            "seed": settings.seed,
            "arms": list(result.arms),
            "recommender_by_fold": {
                str(fold): changed_settings(chosen)
                for fold, chosen in settings.recommender_by_fold.items()
            },
        },
        "n_tasks": len(result.tasks),
        "tasks": [r.name for r in result.tasks],
        "regret": {
            arm: {
                "mean": [round(float(v), 6) for v in result.mean(arm)],
                "stderr": [round(float(v), 6) for v in result.stderr(arm)],
            }
            for arm in result.arms
        },
        "targets": result.targets(),
        "notes": result.notes,
    }


def write_sequential_report(
    result: SequentialResult, folder: Path, *, command: str = "", commit: str = ""
) -> Path:
    """Write the CSV, JSON, PNG and Markdown of a run into ``folder``; return the Markdown's path.

    Files: ``SPACE_sequential[_live].md``, ``..._tasks.csv`` (one row per task
    and arm: best-so-far regret after each trial, mean over repeats), ``....json`` (mean
    and standard error over tasks per arm and trial, the targets, the
    settings, ``commit`` and ``command``) and ``..._regret.png``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem, settings = _stem(result), result.settings
    _write_csv(result, folder / f"{stem}_tasks.csv")
    summary = _summary(result, commit, command)
    (folder / f"{stem}.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot = folder / f"{stem}_regret.png"
    _plot(result, plot)
    marks = [t for t in _MARKS if t <= settings.n_trials]
    what = (
        "Each task is the seeding mode's surrogate benchmark: a random forest fitted on the "
        "configs evaluated on it; regret is normalised by the forest's own highest and lowest "
        "values over the task's evaluated configs (0 = as good as its best evaluated config, "
        "1 = its worst; the best measured score lies above anything the forest gives)."
        if result.mode == "surrogate"
        else "Every config is trained for real ("
        + result.protocol
        + "); regret is normalised by the best and worst score on the task over every config "
        "trained live (all arms) and its stored records measured the same way."
    )
    lines = [
        f"# {result.space_name}: the ask/tell loop against optimizers ({result.mode})",
        "",
        f"Leave-family-out over {settings.n_folds} folds; {len(result.tasks)} held-out tasks, "
        f"{settings.n_trials} trials per arm, {settings.repeats} "
        f"seed{'s' if settings.repeats != 1 else ''} per task (TPE, CFO "
        "and random search; the ask/tell loop has no seed and runs once per task). " + what,
        "Mean best-so-far regret over tasks (each task's repeats averaged first), "
        "± one standard error over tasks.",
        "",
    ]
    if commit:
        lines += [f"Code of commit {commit}.", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [f"![regret against trials]({plot.name})", ""]
    lines += markdown_table(
        ["arm", *(f"trial {t}" for t in marks)],
        (
            [
                _label(result, arm),
                *(f"{result.at(arm, t):.4f} ± {result.stderr(arm)[t - 1]:.4f}" for t in marks),
            ]
            for arm in result.arms
        ),
    )
    targets = result.targets()
    if targets:
        lines += ["", "Targets (reported, not tuned to):", ""]
        for name, found in targets.items():
            other = next(k for k in found if k not in ("warmstart", "met", "share_of_tasks"))
            lines.append(
                f"- {name}: {found['warmstart']:.4f} against {found[other]:.4f}, "
                f"{'met' if found['met'] else 'NOT met'}; it holds on "
                f"{100 * float(found['share_of_tasks']):.0f}% of the tasks."
            )
    if settings.recommender_by_fold:
        lines += [
            "",
            "The ask/tell loop's recommender settings, chosen per fold on inner folds:",
            "",
        ]
        for fold, chosen in sorted(settings.recommender_by_fold.items()):
            shown = (
                ", ".join(f"{k}={v}" for k, v in changed_settings(chosen).items()) or "the defaults"
            )
            lines.append(f"- fold {fold}: {shown}")
    if result.notes:
        lines += ["", *(f"- {note}" for note in result.notes)]
    lines += [
        "",
        f"Per-task curves: [{stem}_tasks.csv]({stem}_tasks.csv); summary: "
        f"[{stem}.json]({stem}.json).",
    ]
    path = folder / f"{stem}.md"
    path.write_text("\n".join(lines) + "\n")
    return path
