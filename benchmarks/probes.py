"""Configs trained on a task by the runner's protocol, outside a plan: learner probes.

A probe (:mod:`warmstart.metamodel.probes`) is a config trained on a sample of the task
(:data:`~warmstart.metamodel.probes.PROBE_ROWS` rows, 3-fold CV, seed 1).
:func:`probe_scores` measures a bundle's probes on a table in this process (what a
request's description runs); :func:`config_scores` does it for a suite task in a worker
process, and :func:`scores_in_workers` for many tasks in parallel (the knowledge base's
probe step and the studies that train configs).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

from warmstart.benchmarks.learners import Learner
from warmstart.benchmarks.runner import Protocol, evaluate_config
from warmstart.benchmarks.tasks import TaskData, load_suite
from warmstart.metamodel.probes import PROBE_FOLDS, PROBE_ROWS, PROBE_SEED
from warmstart.metamodel.types import ConfigValue, RecordStatus

__all__ = ["PROBE_PROTOCOL", "config_scores", "probe_scores", "scores_in_workers"]

PROBE_PROTOCOL = Protocol(folds=PROBE_FOLDS, row_cap=PROBE_ROWS)
"""How a probe is trained and scored (its seed is ``PROBE_SEED``)."""


def probe_scores(
    data: TaskData,
    learner: Learner,
    space_id: str,
    configs: Sequence[Mapping[str, ConfigValue]],
) -> list[float]:
    """Each config's probe score on the table (NaN where it failed), in this process.

    The learners' warnings (convergence, ill-conditioned solves) are silenced: a probe's
    score is what the stored probe scores kept too, warnings or not.
    """
    return _scores(data, learner, space_id, configs, PROBE_PROTOCOL, PROBE_SEED)


def _scores(
    data: TaskData,
    learner: Learner,
    space_id: str,
    configs: Sequence[Mapping[str, ConfigValue]],
    protocol: Protocol,
    seed: int,
) -> list[float]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for config in configs:
            result = evaluate_config(data, learner, space_id, config, protocol, seed, suite="probe")
            ok = result.status is RecordStatus.OK and result.score is not None
            out.append(float(result.score) if ok else float("nan"))  # type: ignore[arg-type]
    return out


def config_scores(
    suite_spec: str,
    suite_name: str,
    space_name: str,
    space_id: str,
    configs: Sequence[Mapping[str, ConfigValue]],
    protocol: Protocol,
    seed: int,
) -> tuple[list[float], float]:
    """Each config's score on the task with ``seed`` (NaN where it failed), and the seconds
    they took in all; meant to run in a worker process.

    The learners' warnings (convergence, ill-conditioned solves) are silenced: a score is
    what the stored records kept too, warnings or not.
    """
    from warmstart.benchmarks.learners import get_learner

    data = load_suite(suite_spec).load(suite_name)
    start = time.perf_counter()
    out = _scores(data, get_learner(space_name), space_id, configs, protocol, seed)
    return out, time.perf_counter() - start


def scores_in_workers(
    suite_spec: str,
    jobs: Sequence[tuple[str, Sequence[Mapping[str, ConfigValue]]]],
    space_name: str,
    space_id: str,
    protocol: Protocol,
    seed: int,
    workers: int,
) -> list[tuple[list[float], float]]:
    """:func:`config_scores` of each job (a suite task's name and its configs), run in
    ``workers`` processes; the results in the jobs' order."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(
                config_scores, suite_spec, name, space_name, space_id, configs, protocol, seed
            )
            for name, configs in jobs
        ]
        return [future.result() for future in futures]
