"""The live evaluation as a Markdown report with PNG plots and a JSON file of per-task results."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.learners import get_learner
from benchmarks.live._types import LiveEvaluation, LiveTaskResult
from metamodel.errors import NotFoundError
from metamodel.evaluation import METHOD_LABELS, markdown_table, plot_mean_regret, plot_per_task

__all__ = ["outside_space", "write_live_report"]

_FLAML_NOTE = (
    "FLAML zero-shot: `flaml.default.preprocess_and_suggest_hyperparams(task, X, y, 'lgbm')` "
    "is asked on each CV fold's training rows (as FLAML's own `flaml.default` estimators do "
    "in `fit`); its hyperparameters are set on the LightGBM learner's default pipeline "
    "(same preprocessing, seed, threads and deterministic settings) and used as given, "
    "not clipped into warmstart's space. Splits, row cap and metric are the protocol's."
)


def outside_space(space_name: str, params: dict[str, Any]) -> list[str]:
    """Names of numeric hyperparameters whose value lies outside the learner's space bounds."""
    try:
        space = get_learner(space_name).search_space()
    except NotFoundError:
        return []
    out = []
    for name, value in params.items():
        if name not in space or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        hp = space[name]
        lower, upper = getattr(hp, "lower", None), getattr(hp, "upper", None)
        if lower is not None and upper is not None and not lower <= value <= upper:
            out.append(name)
    return out


def _labels(result: LiveEvaluation) -> dict[str, str]:
    return {m: METHOD_LABELS[m] for m in result.methods}


def _summary_lines(result: LiveEvaluation) -> list[str]:
    ks = result.settings.ks
    labels = _labels(result)
    rows = []
    for k in ks:
        median = np.median([t.regret["warmstart"][k] for t in result.tasks])
        mean = result.mean_regret("warmstart", k)
        rows.append([f"{labels['warmstart']}, best of {k}", str(k), f"{mean:.4f}", f"{median:.4f}"])
    for method in result.methods[1:]:
        median = np.median([t.regret[method][1] for t in result.tasks])
        rows.append([labels[method], "1", f"{result.mean_regret(method):.4f}", f"{median:.4f}"])
    lines = markdown_table(["method", "configs trained", "mean regret", "median regret"], rows)
    lines += ["", "Warmstart against each baseline (wins / ties / losses on regret):", ""]
    lines += markdown_table(
        ["against", *(f"top-{k}" for k in ks)],
        ([labels[m], *(str(result.record(m, k)) for k in ks)] for m in result.methods[1:]),
    )
    return lines


def _task_lines(result: LiveEvaluation) -> list[str]:
    k = max(result.settings.ks)
    heads = [METHOD_LABELS[m].split(" (")[0] for m in result.methods]
    header = ["task", "family", "fold", "stored configs", *(f"{h} regret@1" for h in heads)]
    header += [f"warmstart regret@{k}", "best score", "s"]

    def regret_at_1(t: LiveTaskResult, method: str) -> str:
        return "failed" if math.isnan(t.scores[method]) else f"{t.regret[method][1]:.4f}"

    rows = [
        [
            t.name,
            t.family,
            str(t.fold),
            str(t.n_stored),
            *(regret_at_1(t, m) for m in result.methods),
            f"{t.regret['warmstart'][k]:.4f}",
            f"{t.best:.4f}",
            f"{t.seconds:.0f}",
        ]
        for t in result.tasks
    ]
    return markdown_table(header, rows)


def _flaml_lines(result: LiveEvaluation) -> list[str]:
    if "flaml_zeroshot" not in result.methods:
        return []
    params = [t.flaml_params for t in result.tasks if t.flaml_params is not None]
    outside = [names for p in params if (names := outside_space(result.space_name, p))]
    which = sorted({n for names in outside for n in names})
    lines = ["", _FLAML_NOTE]
    if params:
        lines += [
            "",
            f"FLAML's choice lay outside warmstart's {result.space_name} space on "
            f"{len(outside)} of {len(params)} tasks"
            + (f" (in {', '.join(which)})." if which else "."),
        ]
    return lines


def _plots(result: LiveEvaluation, folder: Path) -> tuple[Path, Path]:
    name, labels = result.space_name, _labels(result)
    bars = folder / f"{name}_live_regret.png"
    values = {
        f"{labels['warmstart']}, best of {k}": result.mean_regret("warmstart", k)
        for k in result.settings.ks
    }
    values.update({labels[m]: result.mean_regret(m) for m in result.methods[1:]})
    plot_mean_regret(
        values,
        bars,
        title=f"{name}: live, leave-family-out, {len(result.tasks)} held-out tasks",
    )
    baseline = "flaml_zeroshot" if "flaml_zeroshot" in result.methods else "default"
    scatter = folder / f"{name}_live_vs_{baseline}.png"
    plot_per_task(
        [t.regret["warmstart"][1] for t in result.tasks],
        [t.regret[baseline][1] for t in result.tasks],
        scatter,
        xlabel=f"{labels[baseline]}: live regret",
        ylabel="warmstart top-1: live regret",
    )
    return bars, scatter


def _as_json(task: LiveTaskResult) -> dict[str, Any]:
    row = asdict(task)
    # JSON has no NaN: a failed evaluation is null.
    row["scores"] = {m: None if math.isnan(v) else v for m, v in task.scores.items()}
    row["warmstart_scores"] = [None if math.isnan(v) else v for v in task.warmstart_scores]
    return row


def write_live_report(result: LiveEvaluation, folder: Path, *, command: str = "") -> Path:
    """Write ``SPACE_live.md``, its plots and ``SPACE_live.json`` into ``folder``.

    Args:
        result: The live evaluation.
        folder: Where to write (created if missing).
        command: The command that produced it, quoted in the report.

    Returns:
        The Markdown report's path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = result.space_name
    bars, scatter = _plots(result, folder)
    settings = result.settings
    lines = [
        f"# {name}: live-mode evaluation",
        "",
        f"Leave-family-out over {settings.n_folds} folds (pool mode's folds): "
        f"{len(result.tasks)} held-out tasks in {len({t.family for t in result.tasks})} "
        f"families, each trained for real with {result.protocol_note}. "
        f"Each fold's model is trained on the other folds' records ({result.n_records:,} "
        "records in all). Normalised regret: `(best_t - score) / (best_t - worst_t)`, with "
        "best and worst over the task's stored records and every score measured live "
        "(0 = the best seen, 1 = the worst; a failed evaluation counts as the worst); "
        "lower is better.",
        "",
    ]
    if command:
        lines += ["```", command, "```", ""]
    lines += [f"![mean regret per method]({bars.name})", ""]
    lines += _summary_lines(result)
    lines += ["", f"![per task]({scatter.name})"]
    lines += _flaml_lines(result)
    new_best = sum(t.new_best for t in result.tasks)
    gaps = [t.stored_gap for t in result.tasks if t.stored_gap is not None]
    lines += ["", f"A live score beat every stored score on {new_best} tasks."]
    if gaps:
        within = "exactly" if max(gaps) == 0 else f"within {max(gaps):.2g} of"
        lines.append(
            f"Configs already in the store scored {within} their stored score when evaluated "
            f"again live ({len(gaps)} tasks had one): the protocol matches."
        )
    if result.notes:
        lines += ["", "Notes:", "", *(f"- {note}" for note in result.notes)]
    lines += ["", "## Per task", "", *_task_lines(result)]
    path = folder / f"{name}_live.md"
    path.write_text("\n".join(lines) + "\n")
    (folder / f"{name}_live.json").write_text(
        json.dumps([_as_json(t) for t in result.tasks], indent=1, sort_keys=True) + "\n"
    )
    return path
