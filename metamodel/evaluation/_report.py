"""The evaluation as a Markdown report with PNG plots and a per-task CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from warmstart.metamodel.evaluation._plots import METHOD_LABELS as _LABELS
from warmstart.metamodel.evaluation._plots import markdown_table, plot_per_task
from warmstart.metamodel.evaluation._pool import METHODS, PoolEvaluation

__all__ = ["write_pool_report", "write_pool_tasks"]


def _plot_regret(result: PoolEvaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = list(result.settings.ks)
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    for method in METHODS:
        values = [result.mean_regret(method, k) for k in ks]
        style: dict[str, Any] = (
            {"linewidth": 2.5} if method == "warmstart" else {"linewidth": 1.3, "alpha": 0.85}
        )
        axis.plot(ks, values, marker="o", label=_LABELS[method], **style)
    axis.set_xlabel("configs tried (k)")
    axis.set_ylabel("mean normalised regret of the best of the first k")
    axis.set_xticks(ks)
    # Log scale: random's regret is ten times the others' and would flatten them.
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.set_title(f"{result.space_name}: leave-family-out, pool mode, {len(result.tasks)} tasks")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _plot_per_task(result: PoolEvaluation, path: Path, baseline: str, k: int) -> None:
    plot_per_task(
        [t.regret["warmstart"][k] for t in result.tasks],
        [t.regret[baseline][k] for t in result.tasks],
        path,
        xlabel=f"{_LABELS[baseline]}: regret@{k}",
        ylabel=f"warmstart: regret@{k}",
    )


def write_pool_tasks(result: PoolEvaluation, path: Path) -> Path:
    """Write one CSV row per held-out task: its id, name, family, fold, pool size and
    the regret of every method at every k (columns ``<method>@<k>``).

    Returns:
        ``path``.
    """
    ks = result.settings.ks
    header = ["task_id", "task_name", "family", "fold", "pool_size"]
    header += [f"{m}@{k}" for m in METHODS for k in ks]
    header += ["full_size_rows", *(f"full_size:{m}@{k}" for m in METHODS for k in ks)]
    header += [f"full_size:sample_rules@{k}" for k in ks]
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for task in result.tasks:
            full = task.full_size
            writer.writerow(
                [task.task_id, task.name, task.family, task.fold, task.pool_size]
                + [repr(task.regret[m][k]) for m in METHODS for k in ks]
                + [task.full_size_rows if full is not None else ""]
                + [repr(full[m][k]) if full is not None else "" for m in METHODS for k in ks]
                + [
                    repr(task.full_size_sample_rules[k])
                    if task.full_size_sample_rules is not None
                    else ""
                    for k in ks
                ]
            )
    return Path(path)


def write_pool_report(result: PoolEvaluation, folder: Path, *, command: str = "") -> Path:
    """Write the report (``<space>_pool.md``), its plots and the per-task CSV
    (``<space>_pool_tasks.csv``, see :func:`write_pool_tasks`) into ``folder``.

    Returns:
        The report's path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ks = result.settings.ks
    name = result.space_name
    per_task = write_pool_tasks(result, folder / f"{name}_pool_tasks.csv")
    curve = folder / f"{name}_pool_regret.png"
    _plot_regret(result, curve)
    scatter = folder / f"{name}_pool_vs_portfolio.png"
    _plot_per_task(result, scatter, "greedy_portfolio", 1)
    lines = [
        f"# {name}: pool-mode evaluation",
        "",
        f"Leave-family-out over {result.settings.n_folds} folds: {len(result.tasks)} held-out "
        f"tasks in {len({t.family for t in result.tasks})} families, {result.n_records} records. "
        "Normalised regret of the best of the first k configs (0 = the task's best "
        "evaluated config, 1 = its worst), lower is better.",
        "",
    ]
    if command:
        lines += ["```", command, "```", ""]
    lines += [
        f"![regret against configs tried]({curve.name})",
        "",
    ]
    lines += markdown_table(
        ["method", *(f"regret@{k}" for k in ks)],
        ([_LABELS[m], *(f"{result.mean_regret(m, k):.4f}" for k in ks)] for m in METHODS),
    )
    lines += ["", "Average rank per task (1 = best of the six; ties share):", ""]
    ranks = {k: result.average_rank(k) for k in ks}
    lines += markdown_table(
        ["method", *(f"k={k}" for k in ks)],
        ([_LABELS[m], *(f"{ranks[k][m]:.2f}" for k in ks)] for m in METHODS),
    )
    lines += ["", "Win rate of warmstart (share of tasks with lower regret; ties count half):", ""]
    lines += markdown_table(
        ["against", *(f"k={k}" for k in ks)],
        ([_LABELS[m], *(f"{result.win_rate(m, k):.2f}" for k in ks)] for m in METHODS[1:]),
    )
    lines += ["", f"![per task against the greedy portfolio]({scatter.name})", ""]
    lines += _full_size_lines(result)
    lines += _served_lines(result)
    lines += _dependence_lines(result)
    lines += [f"Per-task regrets: [{per_task.name}]({per_task.name}).", ""]
    if result.left_out:
        lines += [f"Tasks with records left out ({len(result.left_out)}):", ""]
        lines += [f"- {task}: {why}" for task, why in sorted(result.left_out.items())]
        lines += [""]
    path = folder / f"{name}_pool.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _full_size_lines(result: PoolEvaluation) -> list[str]:
    """Every method on the full-size pools of the tasks that have one, the model asked at
    their rows (:mod:`warmstart.metamodel.pools`)."""
    tasks = result.full_size_tasks
    if not tasks:
        return []
    ks = result.settings.ks
    rows = sorted(t.full_size_rows or 0 for t in tasks)
    wins = ties = losses = 0
    for task in tasks:
        assert task.full_size is not None
        ours, default = task.full_size["warmstart"][1], task.full_size["default"][1]
        wins += ours < default
        ties += ours == default
        losses += ours > default
    return [
        f"At the tasks' full size: {len(tasks)} held-out tasks whose configs were also "
        f"trained on more rows ({rows[0]:,} to {rows[-1]:,}), each method choosing among "
        "those (the model asked at their rows; regret normalised over them):",
        "",
        *markdown_table(
            ["method", *(f"regret@{k}" for k in ks)],
            (
                [label, *(f"{result.mean_full_size_regret(m, k):.4f}" for k in ks)]
                for m, label in [
                    *((m, _LABELS[m]) for m in METHODS),
                    ("sample_rules", "warmstart, served the rules for samples"),
                ]
            ),
        ),
        "",
        f"There, warmstart's top-1 against the library default: {wins} better, {ties} the "
        f"same, {losses} worse.",
        "",
    ]


def _dependence_lines(result: PoolEvaluation) -> list[str]:
    """The task-dependence figures (see :mod:`warmstart.metamodel.evaluation._dependence`)."""
    found = result.dependence
    if found is None:
        return []
    sampled = found.sampled
    if sampled is None or sampled.n_tasks == 0:  # e.g. meta-data brought from elsewhere
        own = ["0", "-", "-", "-"]
    else:
        own = [
            str(sampled.n_tasks),
            f"{sampled.spearman:.3f}",
            f"{sampled.predicted_agreement:.3f}",
            f"{sampled.measured_agreement:.3f}",
        ]
    size = "" if sampled is None else f" {sampled.n_configs}"
    return [
        "Task dependence of the surrogate: predicted against measured rankings over each "
        f"fold's {found.n_fixed} configs best on its training tasks (they move with the "
        f"records), and over the space's own{size} (its default and first Sobol configs, "
        "seed 0: the same for every fold and record set):",
        "",
        *markdown_table(
            ["figure", "best on the training tasks", "the space's own set"],
            [
                ["held-out tasks measured", str(found.n_tasks), own[0]],
                [
                    "Spearman, predicted vs measured, mean over tasks",
                    f"{found.spearman:.3f}",
                    own[1],
                ],
                ["agreement across tasks, predicted", f"{found.predicted_agreement:.3f}", own[2]],
                ["agreement across tasks, measured", f"{found.measured_agreement:.3f}", own[3]],
            ],
        ),
        "",
        f"Distinct configs in the top-5 lists: {found.distinct_top5}.",
        "",
    ]


def _served_lines(result: PoolEvaluation) -> list[str]:
    """The set rule each fold's bundle served at each k, chosen on that fold's inner folds."""
    if not result.fold_rules:
        return []
    ks = sorted({k for served in result.fold_rules.values() for k in served.rules})
    counts = {f: sum(t.fold == f for t in result.tasks) for f in result.fold_rules}
    sized = {f: s.full_size for f, s in result.fold_rules.items() if s.full_size is not None}
    extra: list[str] = []
    if sized:
        extra = [
            "Set rules served to requests above a size, chosen on the inner folds' full-size "
            "pools (folds not listed chose none: too few such tasks):",
            "",
            *markdown_table(
                ["fold", "above rows", *(f"k={k}" for k in ks)],
                (
                    [str(fold), f"{above:,}", *(rules.get(k, "") for k in ks)]
                    for fold, (above, rules) in sorted(sized.items())
                ),
            ),
            "",
        ]
    return [
        "Set rules served by each fold's bundle, per smallest k (chosen on inner family folds "
        "of the fold's training tasks; a rule serves up to the next k):",
        "",
        *markdown_table(
            ["fold", "held-out tasks", *(f"k={k}" for k in ks), "procedure"],
            (
                [
                    str(fold),
                    str(counts[fold]),
                    *(served.rules.get(k, "") for k in ks),
                    served.procedure,
                ]
                for fold, served in sorted(result.fold_rules.items())
            ),
        ),
        "",
        *extra,
    ]
