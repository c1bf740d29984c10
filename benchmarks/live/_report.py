"""The live evaluation as a Markdown report with PNG plots and a JSON file of per-task results."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.live._types import (
    SINGLE_CONFIG_METHODS,
    LiveEvaluation,
    LiveTaskResult,
    regret_at,
)
from warmstart.metamodel.errors import NotFoundError
from warmstart.metamodel.evaluation import METHOD_LABELS, markdown_table, plot_per_task

__all__ = ["outside_space", "write_live_report"]

_FLAML_NOTE = (
    "FLAML zero-shot: `flaml.default.preprocess_and_suggest_hyperparams(task, X, y, 'lgbm')` "
    "is asked on each CV fold's training rows (as FLAML's own `flaml.default` estimators do "
    "in `fit`); its hyperparameters are set on the LightGBM learner's default pipeline "
    "(same preprocessing, seed, threads and deterministic settings) and used as given, "
    "not clipped into warmstart's space. Splits, row cap and metric are the protocol's."
)


_SELECTION_NOTE = (
    "No setting of the surrogate or the recommender is chosen on the reported tasks in this "
    "run: each fold's bundle chooses its surrogate's leaf size and its set rule per k on "
    "inner family folds of its own training tasks (`train_from_records(..., families=...)`; "
    "the default rule and leaf size when they hold too few families or tasks), and every "
    "other setting is a fixed default, the same in every fold; what each fold chose is "
    "listed below."
)

_METHODS_NOTE = (
    "Methods: warmstart's top-k suggestions; the library default; the single best config "
    "over the training tasks; the greedy portfolio of the training records (best of k); the "
    "best config of each nearest training task in meta-feature space (best of k); FLAML's "
    "zero-shot LightGBM; and k configs sampled, seeded per task, from FLAML's own LightGBM "
    "search space (`LGBMEstimator.search_space` for the rows used: what a sensible random "
    "search gives for free), trained on the LightGBM learner's default pipeline with those "
    "values set."
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


def _headline_k(result: LiveEvaluation) -> int:
    """The k the headline ratio is given at: 5 when reported, else the largest."""
    return 5 if 5 in result.settings.ks else max(result.settings.ks)


def _summary_lines(result: LiveEvaluation) -> list[str]:
    ks = result.settings.ks
    labels = _labels(result)
    rows = []
    for method in result.methods:
        for k in (1,) if method in SINGLE_CONFIG_METHODS else ks:
            median = np.median([regret_at(t, method, k) for t in result.tasks])
            mean = result.mean_regret(method, k)
            label = (
                labels[method]
                if method in SINGLE_CONFIG_METHODS
                else (f"{labels[method]}, best of {k}")
            )
            rows.append([label, str(k), f"{mean:.4f}", f"{median:.4f}"])
    lines = markdown_table(["method", "configs trained", "mean regret", "median regret"], rows)
    lines += ["", *_headline_lines(result)]
    lines += [
        "",
        "Warmstart's best of k against each baseline's best of k "
        "(one-config baselines: their one config), wins / ties / losses on regret:",
        "",
    ]
    lines += markdown_table(
        ["against", *(f"k = {k}" for k in ks)],
        ([labels[m], *(str(result.record(m, k)) for k in ks)] for m in result.methods[1:]),
    )
    return lines


def _headline_lines(result: LiveEvaluation) -> list[str]:
    """Top-1 against the default and FLAML zero-shot; best of 5 against FLAML's space."""
    lines = []
    for baseline in ("default", "flaml_zeroshot"):
        if baseline not in result.methods:
            continue
        record = result.record(baseline, 1)
        share = record.win_share
        where = "never differ" if math.isnan(share) else f"wins {share:.0%} where they differ"
        lines.append(
            f"- warmstart top-1 against {METHOD_LABELS[baseline]}: {record} "
            f"(wins / ties / losses; {where})."
        )
    if "flaml_space" in result.methods:
        k = _headline_k(result)
        ratio = result.regret_ratio("warmstart", "flaml_space", k)
        lines.append(
            f"- warmstart best of {k} against {k} configs sampled from FLAML's space: mean regret "
            f"{result.mean_regret('warmstart', k):.4f} against "
            f"{result.mean_regret('flaml_space', k):.4f}, a ratio of {ratio:.2f}."
        )
    distinct, n_lists = result.distinct_top5()
    if n_lists:
        lines.append(
            f"- warmstart's top-5 lists (its answers to a request for 5) hold {distinct} "
            f"distinct configs over {n_lists} tasks."
        )
    return lines


def _bucket_lines(result: LiveEvaluation) -> list[str]:
    """Mean regret per method and k in each size bucket of the rows used."""
    ks = result.settings.ks
    rows = []
    for bucket, tasks in result.by_bucket().items():
        for method in result.methods:
            cells = [
                f"{result.mean_regret(method, k, tasks):.4f}"
                if k == 1 or method not in SINGLE_CONFIG_METHODS
                else "="
                for k in ks
            ]
            rows.append([bucket, str(len(tasks)), METHOD_LABELS[method], *cells])
    lines = [
        "## By data size",
        "",
        "Mean regret by size bucket of the rows each task's evaluation used "
        "(after the row cap, if any); one-config methods have one value (`=`: as at k = 1).",
        "",
    ]
    return lines + markdown_table(
        ["rows used", "tasks", "method", *(f"regret@{k}" for k in ks)], rows
    )


def _task_lines(result: LiveEvaluation) -> list[str]:
    k = max(result.settings.ks)
    heads = {m: METHOD_LABELS[m].split(" (")[0] for m in result.methods}
    header = ["task", "family", "fold", "rows used", "stored configs"]
    header += [
        f"{heads[m]} regret@{1 if m in SINGLE_CONFIG_METHODS else k}" for m in result.methods
    ]
    header += ["warmstart regret@1", "best score", "s"]

    def cell(t: LiveTaskResult, method: str) -> str:
        at = 1 if method in SINGLE_CONFIG_METHODS else k
        if all(math.isnan(s) for s in t.config_scores[method]):
            return "failed"
        return f"{regret_at(t, method, at):.4f}"

    rows = [
        [
            t.name,
            t.family,
            str(t.fold),
            str(t.rows_used),
            str(t.n_stored),
            *(cell(t, m) for m in result.methods),
            f"{t.regret['warmstart'][1]:.4f}",
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


def _plot_regret_by_k(result: LiveEvaluation, path: Path) -> None:
    """Mean regret against k, one line per method (one-config methods flat)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = list(result.settings.ks)
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    for method in result.methods:
        values = [result.mean_regret(method, k) for k in ks]
        style: dict[str, Any] = {"linewidth": 2.5} if method == "warmstart" else {}
        if method in SINGLE_CONFIG_METHODS:
            style["linestyle"] = "--"
        axis.plot(ks, values, marker="o", label=METHOD_LABELS[method], **style)
    axis.set_xticks(ks)
    axis.set_xlabel("k (best of the first k configs; dashed: one config)")
    axis.set_ylabel("mean normalised regret")
    axis.set_title(
        f"{result.space_name}: live, leave-family-out, {len(result.tasks)} held-out tasks",
        fontsize=10,
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _plots(result: LiveEvaluation, folder: Path) -> tuple[Path, Path]:
    name, labels = result.space_name, _labels(result)
    by_k = folder / f"{name}_live_regret.png"
    _plot_regret_by_k(result, by_k)
    baseline = "flaml_zeroshot" if "flaml_zeroshot" in result.methods else "default"
    scatter = folder / f"{name}_live_vs_{baseline}.png"
    plot_per_task(
        [t.regret["warmstart"][1] for t in result.tasks],
        [t.regret[baseline][1] for t in result.tasks],
        scatter,
        xlabel=f"{labels[baseline]}: live regret",
        ylabel="warmstart top-1: live regret",
    )
    return by_k, scatter


def _time_limit_sentence(result: LiveEvaluation) -> str:
    """The time limit of each config's evaluation, when one was set ("" otherwise)."""
    limit = result.settings.time_limit
    if limit is None:
        return ""
    return (
        f"Each config's whole CV evaluation was limited to {limit:g} s of wall time "
        "(in a worker process, killed past it): a config past the limit counts as failed. "
        "warmstart's requests stated the limit's share of one fit as `max_fit_seconds` "
        "(the limit over the CV folds plus one, for predicting and scoring). "
    )


def _nan_to_none(values: tuple[float, ...]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values]


def _as_json(task: LiveTaskResult) -> dict[str, Any]:
    row = asdict(task)
    # JSON has no NaN: a failed evaluation is null.
    row["scores"] = {m: None if math.isnan(v) else v for m, v in task.scores.items()}
    row["warmstart_scores"] = _nan_to_none(task.warmstart_scores)
    row["config_scores"] = {m: _nan_to_none(v) for m, v in task.config_scores.items()}
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
    by_k, scatter = _plots(result, folder)
    settings = result.settings
    lines = [
        f"# {name}: live-mode evaluation",
        "",
        f"Leave-family-out over {settings.n_folds} folds (pool mode's folds): "
        f"{len(result.tasks)} held-out tasks in {len({t.family for t in result.tasks})} "
        f"families, each trained for real with {result.protocol_note}. "
        + _time_limit_sentence(result)
        + f"Each fold's model is trained on the other folds' records ({result.n_records:,} "
        "records in all). " + _SELECTION_NOTE + " Normalised regret: "
        "`(best_t - score) / (best_t - worst_t)`, with best and worst over every config "
        "trained live on the task (all methods) and the task's stored records measured on the "
        "same rows, CV folds and seed (0 = the best seen, 1 = the worst; a failed evaluation "
        "counts as the worst); lower is better.",
        "",
        _METHODS_NOTE,
        "",
    ]
    if command:
        lines += ["```", command, "```", ""]
    lines += [f"![mean regret against k, every method]({by_k.name})", ""]
    lines += _summary_lines(result)
    lines += ["", *_bucket_lines(result), ""]
    lines += ["", f"![per task]({scatter.name})"]
    lines += _flaml_lines(result)
    new_best = sum(t.new_best for t in result.tasks)
    gaps = [t.stored_gap for t in result.tasks if t.stored_gap is not None]
    lines += ["", f"A live score beat every stored score on {new_best} tasks."]
    timeouts = [t.timeouts for t in result.tasks if t.timeouts]
    if timeouts:
        lines.append(
            "Configs that ran past the time limit, counted as failed (the worst): "
            f"{sum(timeouts)} on {len(timeouts)} tasks."
        )
    if gaps:
        within = "exactly" if max(gaps) == 0 else f"within {max(gaps):.2g} of"
        lines.append(
            f"Configs already in the store scored {within} their stored score when evaluated "
            f"again live ({len(gaps)} tasks had one): the protocol matches."
        )
    if result.set_rules:
        lines += ["", "Set rules of each outer fold's bundle:", ""]
        lines += [f"- fold {fold}: {note}" for fold, note in sorted(result.set_rules.items())]
    if result.notes:
        lines += ["", "Notes:", "", *(f"- {note}" for note in result.notes)]
    lines += ["", "## Per task", "", *_task_lines(result)]
    path = folder / f"{name}_live.md"
    path.write_text("\n".join(lines) + "\n")
    (folder / f"{name}_live.json").write_text(
        json.dumps([_as_json(t) for t in result.tasks], indent=1, sort_keys=True) + "\n"
    )
    return path
