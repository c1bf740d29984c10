"""Builders for test data: real PMLB task descriptions, a real space, records."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer

from warmstart.metamodel.spaces import config_hash, make_search_space, sample_configs
from warmstart.metamodel.types import (
    ConfigValue,
    EvaluationRecord,
    RecordSource,
    RecordStatus,
    SearchSpace,
    Task,
    TaskType,
)

PMLB_ENV = "WARMSTART_PMLB"
PMLB = Path(
    os.environ.get(PMLB_ENV) or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pmlb"
)
"""The PMLB suite: ``$WARMSTART_PMLB``, else ``shared/datasets/pmlb`` beside the repository."""


def require_pmlb() -> Path:
    """Return the PMLB folder; fail the test with how to point at it when it is missing."""
    if not (PMLB / "manifest.csv").is_file():
        pytest.fail(
            f"the PMLB suite is not at {PMLB} (no manifest.csv): clone the repository beside "
            f"shared/, or set {PMLB_ENV} to the folder holding manifest.csv",
            pytrace=False,
        )
    return PMLB


TABREPO_ENV = "WARMSTART_TABREPO"
TABREPO = Path(
    os.environ.get(TABREPO_ENV)
    or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabrepo-early"
)
"""TabRepo's early LightGBM table: ``$WARMSTART_TABREPO``, else ``shared/datasets/tabrepo-early``
beside the repository."""


def require_tabrepo() -> Path:
    """Return the tabrepo-early folder; fail the test with how to point at it when it is missing."""
    if not (TABREPO / "results_ranked_by_dataset_valid.csv").is_file():
        pytest.fail(
            f"the TabRepo table is not at {TABREPO} (no results_ranked_by_dataset_valid.csv): "
            f"clone the repository beside shared/, or set {TABREPO_ENV} to the tabrepo-early "
            "folder",
            pytrace=False,
        )
    return TABREPO


def small_space(name: str = "svm_like") -> SearchSpace:
    """A space with log scales, an integer, a bool and a conditional parameter."""
    space = ConfigurationSpace()
    kernel = Categorical("kernel", ["rbf", "linear", "poly"], default="rbf")
    gamma = Float("gamma", (1e-4, 10.0), log=True, default=0.1)
    degree = Integer("degree", (2, 5), default=3)
    space.add(
        [
            Float("C", (1e-3, 1e3), log=True, default=1.0),
            kernel,
            gamma,
            degree,
            Categorical("shrinking", [True, False], default=True),
            EqualsCondition(degree, kernel, "poly"),
            EqualsCondition(gamma, kernel, "rbf"),
        ]
    )
    return make_search_space(name, space)


def ok_record(
    task_id: str,
    space: SearchSpace,
    config: dict[str, ConfigValue],
    score: float,
    *,
    fidelity: float = 1.0,
) -> EvaluationRecord:
    """One successful evaluation of ``config`` on a task."""
    return EvaluationRecord(
        task_id=task_id,
        space_id=space.space_id,
        config=config,
        config_hash=config_hash(config),
        score=score,
        status=RecordStatus.OK,
        fidelity=fidelity,
    )


def make_records(
    tasks: list[Task],
    space: SearchSpace,
    n_configs: int,
    *,
    seed: int = 0,
    source: RecordSource = RecordSource.BENCHMARK,
) -> list[EvaluationRecord]:
    """One record per (task, config), with scores that depend on both; one in 10 fails."""
    from warmstart.metamodel.spaces import load_configspace

    configs = sample_configs(load_configspace(space), n_configs, method="random", seed=seed)
    out: list[EvaluationRecord] = []
    for t_index, task in enumerate(tasks):
        for c_index, config in enumerate(configs):
            failed = (t_index + c_index) % 10 == 9
            score = None if failed else 0.5 + ((t_index * 31 + c_index * 17) % 50) / 100
            out.append(
                EvaluationRecord(
                    task_id=task.task_id,
                    space_id=space.space_id,
                    config=config,
                    config_hash=config_hash(config),
                    score=score,
                    status=RecordStatus.FAILED if failed else RecordStatus.OK,
                    seed=seed,
                    metrics={} if failed else {"roc_auc": score or 0.0, "log_loss": float("nan")},
                    fit_seconds=0.01 * (c_index + 1),
                    predict_seconds=0.001,
                    peak_memory_mb=12.5,
                    error="ValueError: boom" if failed else None,
                    source=source,
                )
            )
    return out


def pmlb_tasks(limit: int | None = None) -> list[Task]:
    """Tasks described by the PMLB manifest (no data loaded)."""
    out: list[Task] = []
    with (require_pmlb() / "manifest.csv").open() as handle:
        for row in csv.DictReader(handle):
            n_classes = int(float(row["n_classes"])) if row["n_classes"] else None
            if row["task"] == "regression":
                kind = TaskType.REGRESSION
            else:
                kind = TaskType.BINARY if n_classes == 2 else TaskType.MULTICLASS
            out.append(
                Task(
                    task_id=f"pmlb-{row['name']}",
                    name=f"pmlb/{row['name']}",
                    task_type=kind,
                    source="pmlb",
                    family=row["family"],
                    n_rows=int(row["n_rows"]),
                    n_features=int(row["n_features"]),
                    n_classes=n_classes,
                )
            )
            if limit is not None and len(out) >= limit:
                break
    return out
