"""Shared set-up of the runner benchmarks: a real task and ~1 s evaluations."""

from __future__ import annotations

import os
from pathlib import Path

from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.runner import Job, Protocol
from warmstart.benchmarks.tasks import TaskData, load_suite
from warmstart.metamodel.spaces import config_hash, make_search_space

# The PMLB suite: $WARMSTART_PMLB, else shared/datasets/pmlb beside the repository.
_BESIDE = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "pmlb"
PMLB = Path(os.environ.get("WARMSTART_PMLB") or _BESIDE)
SUITE = f"pmlb:{PMLB}"
TASK = "mfeat_fourier"  # 2,000 rows x 76 features, 10 classes
LEARNER = "random_forest"
PROTOCOL = Protocol(folds=3, row_cap=None)


def jobs(n: int, n_estimators: int = 25) -> tuple[TaskData, list[Job]]:
    """``n`` random-forest jobs on the task that each take about a second on one core."""
    data = load_suite(SUITE).load(TASK)
    learner = get_learner(LEARNER)
    space = make_search_space(LEARNER, learner.search_space())
    out = []
    for seed in range(n):
        config = dict(learner.default_config())
        config["n_estimators"] = n_estimators
        out.append(
            Job(
                suite=SUITE,
                task_name=TASK,
                task_id=data.task.task_id,
                learner=LEARNER,
                space_id=space.space_id,
                config=config,
                config_hash=config_hash(config),
                seed=seed,
                protocol=PROTOCOL,
            )
        )
    return data, out
