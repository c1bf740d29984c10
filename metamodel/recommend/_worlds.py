"""The world table: every config known when a model loads, and its predictions per training task.

The configs known when the model loads (the library default, the portfolio, each
training task's best, the Sobol samples) are encoded once, and the ensemble's
predictions for them *on each training task* are computed once and kept. The trees
are compiled (:class:`~warmstart.metamodel.surrogate.CompiledSurrogate`): each column's
config-side leaf masks are kept, so a config is scored on a task with one AND per
tree, the same numbers as LightGBM's predict at a fraction of its cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from warmstart.metamodel.encoding import ConfigEncoder
from warmstart.metamodel.errors import NotFoundError
from warmstart.metamodel.recommend._index import TaskIndex
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.surrogate import CompiledSurrogate
from warmstart.metamodel.types import ConfigValue

__all__ = ["EncodedConfigs", "WorldTable"]


@dataclass
class EncodedConfigs:
    """Configs with their hashes, encodings and compiled-tree masks."""

    configs: list[dict[str, ConfigValue]]
    hashes: list[str]
    encoded: np.ndarray
    masks: np.ndarray

    @classmethod
    def of(
        cls,
        encoder: ConfigEncoder,
        compiled: CompiledSurrogate,
        configs: list[dict[str, ConfigValue]],
    ) -> EncodedConfigs:
        """Encode ``configs`` and compute their config-side tree masks."""
        encoded = encoder.encode(configs)
        return cls(configs, [config_hash(c) for c in configs], encoded, compiled.configs(encoded))


class WorldTable:
    """Every config known when the model loads, once each, and its predictions per training task.

    ``groups`` name lists of configs (``default``, ``portfolio``, ``samples`` and
    ``best:<task id>`` for each training task's best); :attr:`positions` maps each
    group to columns of the table. :attr:`scores` holds the ensemble's predictions
    for every column as if the task were each training task (tasks in index order x
    columns x members, so that one cell's members lie together, in one cache line),
    :attr:`means` their mean over the members. Both are computed when the table is
    made: with the compiled trees that is one AND per tree and cell (about 0.2 s for
    the shipped LightGBM bundle). The columns' config-side tree masks and the
    training tasks' task-side masks are kept too, so a config outside the table is
    scored on any training task cheaply.

    Args:
        encoder: The space's config encoder.
        compiled: The compiled surrogate ensemble.
        index: The training tasks.
        groups: Named lists of configs; ``portfolio`` and ``samples`` must be there.
        training_inputs: The surrogate's task-side inputs of the training tasks, in
            index order (default: their meta-features).
    """

    def __init__(
        self,
        encoder: ConfigEncoder,
        compiled: CompiledSurrogate,
        index: TaskIndex,
        groups: Mapping[str, list[dict[str, ConfigValue]]],
        training_inputs: np.ndarray | None = None,
    ) -> None:
        self.compiled = compiled
        self.index = index
        configs: list[dict[str, ConfigValue]] = []
        column: dict[str, int] = {}
        self.positions: dict[str, np.ndarray] = {}
        for name, group in groups.items():
            columns = []
            for config in group:
                digest = config_hash(config)
                if digest not in column:
                    column[digest] = len(configs)
                    configs.append(config)
                columns.append(column[digest])
            self.positions[name] = np.array(columns, dtype=int)
        self.fixed = EncodedConfigs.of(encoder, compiled, configs)
        self.column = column
        inputs = index.training_matrix() if training_inputs is None else training_inputs
        self.task_masks = compiled.tasks(inputs)
        members, n_columns = compiled.n_members, len(configs)
        self.scores = np.empty((len(index.task_ids), n_columns, members))
        for row, task in enumerate(self.task_masks):
            self.scores[row] = compiled.scores(task, self.fixed.masks).T
        self.means = self.scores.mean(axis=2)
        empty = np.zeros(0, dtype=int)
        self.best_by_row = [self.positions.get(f"best:{t}", empty).tolist() for t in index.task_ids]
        portfolio, samples = self.positions["portfolio"], self.positions["samples"]
        self.in_portfolio = np.zeros(n_columns, dtype=bool)
        self.in_portfolio[portfolio] = True
        # What screening ranks: the portfolio and the samples, or the samples alone; each
        # column once (a sample may equal a portfolio config), in its first place.
        self.pools = {
            screened: _first_each(pool)
            for screened, pool in ((True, np.concatenate([portfolio, samples])), (False, samples))
        }
        self.pool_means = {screened: self.means[:, pool] for screened, pool in self.pools.items()}
        self.measured: np.ndarray | None = None
        """Tasks x columns: each training task's measured, min-max normalised score of
        the column's config (NaN: not measured); None where the model holds none."""

    def measure(self, task_scores: Mapping[str, Mapping[str, float]]) -> None:
        """Set :attr:`measured` from ``{task id: {config hash: normalised score}}``
        (tasks outside the index and configs outside the table are left out)."""
        measured = np.full(self.means.shape, np.nan)
        for task_id, scores in task_scores.items():
            try:
                row = self.index.row(task_id)
            except NotFoundError:
                continue
            for digest, value in scores.items():
                column = self.column.get(digest)
                if column is not None:
                    measured[row, column] = value
        self.measured = measured

    def world(self, task_id: str) -> np.ndarray:
        """Members x columns: the ensemble's predictions as if the task were ``task_id``."""
        return np.array(self.scores[self.index.row(task_id)].T)


def _first_each(columns: np.ndarray) -> np.ndarray:
    """The distinct ``columns``, each where it first appears."""
    _, first = np.unique(columns, return_index=True)
    return columns[np.sort(first)]
