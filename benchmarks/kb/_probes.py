"""Measuring the plan's learner probes on every task of a probed space.

For each space of the plan's ``[probes]`` table, the candidates are the configs whose
scores the store keeps under the space's probe feature set
(:func:`~warmstart.metamodel.probes.probe_version`); where it keeps none yet, they are
the first ``candidates`` of :func:`~warmstart.metamodel.probe_choice.choose_probes` on all of
the space's records, and fixed from then on (a feature set's names do not change, so a
later build measures the same configs on new tasks). Each task with records of the space
that lacks them, and that a suite given to the build lists, gets its candidates' probe
scores (:data:`~warmstart.benchmarks.probes.PROBE_PROTOCOL`, seed 1) in worker
processes; a task whose candidates all failed is stored with missing values, as a task
whose meta-features are undefined is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from warmstart.benchmarks.probes import PROBE_PROTOCOL, scores_in_workers
from warmstart.benchmarks.runner import resolve_learner
from warmstart.benchmarks.tasks import Suite
from warmstart.metamodel.probe_choice import choose_probes
from warmstart.metamodel.probes import PROBE_SEED, Probe, probe_version
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import ConfigValue, SearchSpace, TaskFeatures

__all__ = ["measure_probes", "probe_candidates"]


def probe_candidates(
    store: RecordStore, space: SearchSpace, n: int, default: Mapping[str, ConfigValue]
) -> tuple[tuple[str, ...], list[Probe]]:
    """The names of the space's probe feature set (the candidates' hashes: those the store
    keeps, else the first ``n`` of :func:`choose_probes` on every record of the space), and
    the candidates whose configs the records hold."""
    records = store.get_records(RecordFilter(space_id=space.space_id))
    stored = store.list_task_features(probe_version(space.name))
    if not stored:
        chosen = choose_probes(records, n, default)
        return tuple(h for h, _ in chosen), chosen
    names = next(iter(stored.values())).names
    configs = {r.config_hash: dict(r.config) for r in records}
    return names, [(h, configs[h]) for h in names if h in configs]


def measure_probes(
    store: RecordStore,
    space: SearchSpace,
    candidates: int,
    suites: Sequence[tuple[str, Suite]],
    task_ids: set[str],
    workers: int,
    busy: Callable[[str], None],
) -> int:
    """Measure the probe candidates on the tasks of ``task_ids`` that lack them.

    Args:
        store: The build's store: records read, probe scores written.
        space: The probed space.
        candidates: How many candidates, where the store fixes none yet.
        suites: ``(spec, suite)`` of each suite given to the build.
        task_ids: The tasks with records of the space.
        workers: Worker processes.
        busy: Told what is being measured.

    Returns:
        How many tasks' probe scores were stored.
    """
    learner = resolve_learner(space.name)
    names, probes = probe_candidates(store, space, candidates, learner.default_config())
    if not probes:
        return 0
    version = probe_version(space.name)
    lacking = task_ids - set(store.list_task_features(version))
    tasks = {t.task_id: t.name for t in store.list_tasks()} if lacking else {}
    configs = [c for _, c in probes]
    stored = 0
    for spec, suite in suites:
        prefix = f"{suite.name}/"
        listed = set(suite.task_names())
        jobs = [
            (task_id, tasks[task_id].removeprefix(prefix))
            for task_id in sorted(lacking)
            if tasks.get(task_id, "").startswith(prefix)
            and tasks[task_id].removeprefix(prefix) in listed
        ]
        if not jobs:
            continue
        busy(f"probing {space.name}: {len(probes)} configs on {len(jobs)} tasks...")
        found = scores_in_workers(
            spec,
            [(name, configs) for _, name in jobs],
            learner.name,
            space.space_id,
            PROBE_PROTOCOL,
            PROBE_SEED,
            workers,
        )
        rows = []
        for (task_id, _), (scores, _) in zip(jobs, found, strict=True):
            by_hash = dict(zip((h for h, _ in probes), scores, strict=True))
            values = tuple(by_hash.get(h, math.nan) for h in names)
            rows.append(TaskFeatures(task_id, version, names, values))
        stored += store.put_task_features(rows)
        lacking -= {task_id for task_id, _ in jobs}
    return stored
