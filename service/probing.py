"""Learner probes run on a user's table, for a model that reads them.

A bundle may read the scores of a few of its space's configs trained on a sample of
the task (:mod:`warmstart.metamodel.probes`). The service runs them where it has the
table: DescribeTask with ``probe_space``, and the in-process
:func:`warmstart.suggest`. They cost a few seconds on one core (the configs are
trained with 3-fold CV on at most 1,000 rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from warmstart.metamodel.errors import NotFoundError
from warmstart.metamodel.probes import PROBE_KEY_PREFIX, probe_request, probe_version
from warmstart.metamodel.types import TaskFeatures

if TYPE_CHECKING:
    from warmstart.benchmarks.tasks import TaskData
    from warmstart.metamodel.bundle import ModelBundle
    from warmstart.metamodel.store import RecordStore

__all__ = ["probe_features", "store_probe_scores", "stored_probe_features"]


def probe_features(data: TaskData, bundle: ModelBundle) -> dict[str, float]:
    """The bundle's probes trained on the table, as a request's features
    (``probe:<config hash>``; NaN where one failed); empty where the model reads no probes
    at any k or its learner does not take the task's type."""
    if not bundle.reads_probes:
        return {}
    # Loaded here: the learners pull in their libraries, which a server without
    # probing models never needs.
    from warmstart.benchmarks.learners import get_learner
    from warmstart.benchmarks.probes import probe_scores

    learner = get_learner(bundle.space.name)
    if data.task.task_type not in learner.task_types:
        return {}
    hashes = [h for h, _ in bundle.probes]
    scores = probe_scores(data, learner, bundle.space.space_id, [c for _, c in bundle.probes])
    return probe_request(dict(zip(hashes, scores, strict=True)))


def store_probe_scores(
    store: RecordStore, task_id: str, space_name: str, scores: Mapping[str, float]
) -> None:
    """Keep a task's probe scores (``probe:<hash>`` features) in the store, under the
    space's probe feature set. Where the store holds that set already, its names are kept
    (scores of other configs missing), as a feature set's names never change."""
    if not scores:
        return
    version = probe_version(space_name)
    by_hash = {name.removeprefix(PROBE_KEY_PREFIX): value for name, value in scores.items()}
    stored = store.list_task_features(version)
    if task_id in stored:
        return
    names = next(iter(stored.values())).names if stored else tuple(by_hash)
    values = tuple(by_hash.get(h, float("nan")) for h in names)
    store.put_task_features([TaskFeatures(task_id, version, names, values)])


def stored_probe_features(store: RecordStore, task_id: str, space_name: str) -> dict[str, float]:
    """A stored task's probe scores in the space as a request's features (empty: none)."""
    try:
        stored = store.get_task_features(task_id, probe_version(space_name))
    except NotFoundError:
        return {}
    return probe_request({h: v for h, v in zip(stored.names, stored.values, strict=True) if v == v})
