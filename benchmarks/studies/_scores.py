"""Scores of configs trained on one suite task: what the studies that train configs share."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

from warmstart.benchmarks.runner import Protocol, evaluate_config
from warmstart.benchmarks.tasks import load_suite
from warmstart.metamodel.types import ConfigValue, RecordStatus

__all__ = ["config_scores", "scores_in_workers"]


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
    learner = get_learner(space_name)
    out = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for config in configs:
            result = evaluate_config(data, learner, space_id, config, protocol, seed, suite="study")
            ok = result.status is RecordStatus.OK and result.score is not None
            out.append(float(result.score) if ok else float("nan"))  # type: ignore[arg-type]
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
