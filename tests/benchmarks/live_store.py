"""A tiny store of real PMLB evaluations made by the runner's protocol, for live-mode tests.

Shared by tests/benchmarks/test_live.py and test_live_checkpoint.py: nine small
tasks in eight families (breast_cancer and wdbc share "breast"), binary,
multiclass and regression; four of them have more rows than the cap, and
titanic (2,201 rows, 3 features: cheap) more than 2,000.
"""

from __future__ import annotations

from pathlib import Path

from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.live import LiveSettings
from warmstart.benchmarks.runner import Job, Protocol, evaluate, to_record
from warmstart.benchmarks.tasks import Suite
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.features import describe_task
from warmstart.metamodel.spaces import config_hash, make_search_space, sample_configs
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.surrogate import SurrogateParams

TASKS = (
    "iris",
    "haberman",
    "breast_cancer",
    "wdbc",
    "glass2",
    "prnn_fglass",
    "1027_ESL",
    "519_vinnie",
    "titanic",
)
PROTOCOL = Protocol(folds=2, row_cap=300)
TINY = TrainSettings(surrogate=SurrogateParams(n_models=2, n_estimators=50, min_child_samples=5))
SETTINGS = LiveSettings(ks=(1, 2), n_folds=3, max_tasks=3, train=TINY)


def build_live_store(suite: Suite, folder: Path) -> str:
    """A SQLite store of LightGBM evaluations (default + 5 cheap Sobol configs) of
    :data:`TASKS`, with meta-features; its URL."""
    learner = get_learner("lightgbm")
    space_cs = learner.search_space()
    space = make_search_space(learner.name, space_cs)
    sampled = sample_configs(space_cs, 5, method="sobol", seed=1)
    configs = [learner.default_config()]
    configs += [dict(c, n_estimators=min(int(c["n_estimators"]), 60)) for c in sampled]
    url = f"sqlite:///{folder / 'live.db'}"
    with RecordStore.open(url) as store:
        tasks, features, records = [], [], []
        for name in TASKS:
            data = suite.load(name)
            tasks.append(data.task)
            features.append(describe_task(data.task.task_id, data.X, data.y, data.task.task_type))
            for config in configs:
                job = Job(
                    "pmlb", name, data.task.task_id, learner.name, space.space_id,
                    config, config_hash(config), 0, PROTOCOL,
                )  # fmt: skip
                records.append(to_record(evaluate(job, data, learner)))
        store.add_all(tasks=tasks, spaces=[space], records=records)
        store.put_task_features(features)
    return url
