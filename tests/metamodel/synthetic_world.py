"""A synthetic world where the best config follows the task's meta-features.

Each task has four meta-features; the best ``log10(C)`` is a linear function of
the first and the best kernel depends on the second. A model that learns this
must beat the library default and random configs on tasks it has not seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from tests.factories import small_space
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.spaces import (
    SamplerName,
    config_hash,
    load_configspace,
    sample_configs,
)
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import (
    ConfigValue,
    EvaluationRecord,
    RecordStatus,
    Task,
    TaskFeatures,
    TaskType,
)

__all__ = [
    "CS",
    "FAST",
    "NAMES",
    "QUICK",
    "SPACE",
    "features",
    "store_world",
    "true_score",
    "world",
    "world_db",
]

NAMES = ("f0", "f1", "f2", "f3")
SPACE = small_space()
CS = load_configspace(SPACE)


def true_score(config: dict[str, ConfigValue], f: np.ndarray) -> float:
    best_log_c = -2.0 + 4.0 * f[0]
    score = 1.0 - 0.08 * (math.log10(float(config["C"])) - best_log_c) ** 2
    best_kernel = "rbf" if f[1] > 0.5 else "linear"
    score -= 0.0 if config["kernel"] == best_kernel else 0.25
    return float(score)


def world(
    n_tasks: int, seed: int, *, sampler: SamplerName = "random"
) -> tuple[dict[str, np.ndarray], list[EvaluationRecord]]:
    """``n_tasks`` tasks, each with 40 configs drawn by ``sampler`` (its seed ``seed``,
    except ``"sobol"``: seed 0, as ``warmstart bench run`` draws them) and noisy scores."""
    rng = np.random.default_rng(seed)
    tasks = {f"task-{seed}-{i}": rng.random(4) for i in range(n_tasks)}
    configs = sample_configs(CS, 40, method=sampler, seed=0 if sampler == "sobol" else seed)
    records = []
    for task_id, f in tasks.items():
        for config in configs:
            records.append(
                EvaluationRecord(
                    task_id=task_id,
                    space_id=SPACE.space_id,
                    config=config,
                    config_hash=config_hash(config),
                    score=true_score(config, f) + rng.normal(0, 0.01),
                    status=RecordStatus.OK,
                    fit_seconds=0.5 + 0.05 * float(config["C"]) ** 0.5,
                )
            )
    return tasks, records


def features(tasks: dict[str, np.ndarray]) -> dict[str, TaskFeatures]:
    return {
        t: TaskFeatures(t, "test-1", NAMES, tuple(float(v) for v in f)) for t, f in tasks.items()
    }


FAST = TrainSettings(surrogate=SurrogateParams(n_models=5, n_estimators=150, min_child_samples=5))
QUICK = TrainSettings(
    surrogate=SurrogateParams(n_models=3, n_estimators=60, config_rounds=40, min_child_samples=5)
)
"""A smaller surrogate (3 members of 100 trees against FAST's 5 of 230) for the tests that
train many bundles (one per outer fold and per inner fold of an evaluation or a study): it
learns the world well enough for what they assert (regret against the baselines, rank
correlations, the rules and probes chosen inside) at about a quarter of the cost of
training and compiling the trees."""


def store_world(
    store: RecordStore,
    task_ids: Iterable[str],
    records: list[EvaluationRecord],
    *,
    per_family: int,
    n_rows: int = 100,
) -> None:
    """Store the world's tasks (binary, ``n_rows`` rows, ``per_family`` consecutive tasks
    a family: ``fam-0``, ``fam-1``, ...), its space and its records."""
    store.add_all(
        tasks=[
            Task(t, f"synthetic/{t}", TaskType.BINARY, "test", n_rows, 4, family=family)
            for t, family in ((t, f"fam-{i // per_family}") for i, t in enumerate(task_ids))
        ],
        spaces=[SPACE],
        records=records,
    )


def world_db(
    folder: Path, tasks: dict[str, np.ndarray], records: list[EvaluationRecord], per_family: int
) -> str:
    """A SQLite store in ``folder`` holding the world (tasks, space, records) and its
    meta-features (version ``test-1``); its URL, for the studies' ``--db``."""
    url = f"sqlite:///{folder / 'world.db'}"
    with RecordStore.open(url) as store:
        store_world(store, tasks, records, per_family=per_family)
        store.put_task_features(features(tasks).values())
    return url
