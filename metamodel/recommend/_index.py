"""Training tasks in meta-feature space: nearest neighbours and out-of-distribution tests."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from typing import Any

import numpy as np

from warmstart.metamodel.errors import InvalidRequestError, NotFoundError
from warmstart.metamodel.types import NeighbourTask

__all__ = ["TaskIndex"]

_CLIP = (
    6.0  # standardised features beyond this many IQRs are clipped: one odd value is not distance
)


@dataclass(frozen=True)
class TaskIndex:
    """Robustly standardised meta-features of the training tasks.

    Attributes:
        feature_names: The meta-features, in order.
        task_ids: Training tasks, in row order.
        task_names: Their names, for people.
        center: Per-feature median over training tasks.
        scale: Per-feature interquartile range (1 where it is 0 or undefined).
        matrix: Standardised features of the training tasks (NaN → 0, clipped).
        ood_threshold: A task farther than this from its nearest training task
            is out of distribution: 1.5 × the 95th percentile of the training
            tasks' own nearest-neighbour distances.
        optional: How many of the last features count in a task's distances only where
            the task has them (probe inputs: a request without probes is placed among
            the training tasks by its meta-features alone, not as if its probes were
            the median).
    """

    feature_names: tuple[str, ...]
    task_ids: tuple[str, ...]
    task_names: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    matrix: np.ndarray
    ood_threshold: float
    optional: int = 0

    @classmethod
    def build(
        cls,
        feature_names: Sequence[str],
        rows: Mapping[str, Sequence[float]],
        names: Mapping[str, str],
        optional: int = 0,
    ) -> TaskIndex:
        """Index training tasks from ``{task_id: meta-feature values}`` (``optional``: see
        the class)."""
        task_ids = tuple(sorted(rows))
        raw = np.array([np.asarray(rows[t], dtype=float) for t in task_ids])
        # A feature undefined on every training task has no median: NaN, then 0 / 1.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            center = np.nan_to_num(np.nanmedian(raw, axis=0), nan=0.0)
            q75, q25 = np.nanpercentile(raw, [75, 25], axis=0)
        scale = np.nan_to_num(q75 - q25, nan=1.0)
        scale[scale <= 1e-12] = 1.0
        index = cls(
            tuple(feature_names),
            task_ids,
            tuple(names.get(t, t) for t in task_ids),
            center,
            scale,
            np.zeros_like(raw),
            0.0,
        )
        matrix = index.standardise(raw)
        threshold = float("inf")
        if len(task_ids) >= 3:
            distances = _pairwise(matrix, matrix)
            np.fill_diagonal(distances, np.inf)
            threshold = 1.5 * float(np.percentile(distances.min(axis=1), 95))
        return cls(
            index.feature_names,
            task_ids,
            index.task_names,
            center,
            scale,
            matrix,
            threshold,
            optional,
        )

    @cached_property
    def _reach(self) -> tuple[np.ndarray, np.ndarray]:
        """Raw values beyond these standardise past the clip, whatever the rounding."""
        with np.errstate(over="ignore"):
            reach = 2 * _CLIP * self.scale
            return self.center - reach, self.center + reach

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """Scale features like the training tasks; NaN (undefined) becomes the median."""
        # Raw values are first cut to twice the clip's reach: a finite but huge value
        # (1e308) would overflow the subtraction or the division, with a warning, and
        # still end up clipped. NaN passes through the arithmetic quietly.
        low, high = self._reach
        scaled: np.ndarray = np.maximum(np.atleast_2d(np.asarray(raw, dtype=float)), low)
        np.minimum(scaled, high, out=scaled)
        scaled -= self.center
        scaled /= self.scale
        scaled[np.isnan(scaled)] = 0.0
        # Clipped (infinities too) with the ufuncs: np.clip's wrapper costs more than the work.
        np.maximum(scaled, -_CLIP, out=scaled)
        np.minimum(scaled, _CLIP, out=scaled)
        return scaled

    def vector(self, features: Mapping[str, float]) -> np.ndarray:
        """A task's raw meta-feature vector in index order.

        Raises:
            InvalidRequestError: Unknown names, or an infinite value.
        """
        unknown = sorted(features.keys() - self._names)
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise InvalidRequestError(
                f"unknown meta-feature name(s): {shown}; GetModelInfo lists the "
                f"{len(self.feature_names)} names this model uses"
            )
        values = np.fromiter(
            map(features.get, self.feature_names, repeat(math.nan)),
            dtype=float,
            count=len(self.feature_names),
        )
        if np.isinf(values).any():
            bad = [n for n, v in zip(self.feature_names, values, strict=True) if np.isinf(v)]
            raise InvalidRequestError(
                f"meta-features must be finite or NaN (undefined), got inf for {', '.join(bad)}"
            )
        if np.isnan(values).all():
            raise InvalidRequestError("every meta-feature is missing or NaN")
        return values

    def training_vector(self, task_id: str) -> np.ndarray:
        """A training task's meta-features in raw units (as indexed: clipped, NaN as median).

        Raises:
            NotFoundError: The task is not a training task of this index.
        """
        return np.asarray(self.matrix[self.row(task_id)] * self.scale + self.center, dtype=float)

    def training_matrix(self) -> np.ndarray:
        """Every training task's meta-features in raw units, in row order (see above)."""
        return np.asarray(self.matrix * self.scale + self.center, dtype=float)

    def row(self, task_id: str) -> int:
        """A training task's row.

        Raises:
            NotFoundError: The task is not a training task of this index.
        """
        try:
            return self._rows[task_id]
        except KeyError:
            raise NotFoundError(f"task {task_id!r} is not in this model's training tasks") from None

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset(self.feature_names)

    @cached_property
    def _unit(self) -> float:
        """Distances are root-mean-square differences: per feature, not per vector."""
        return 1.0 / math.sqrt(max(self.matrix.shape[1], 1))

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {task_id: i for i, task_id in enumerate(self.task_ids)}

    def nearest(self, raw: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """Rows and distances of the ``n`` nearest training tasks, nearest first; and whether
        the task is out of distribution."""
        rows, distances, out = self.nearest_many(np.atleast_2d(raw), n)
        return rows[0], distances[0], bool(out[0])

    def nearest_many(self, raws: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`nearest` of several tasks (one row of raw meta-features each) at once.

        Returns:
            Queries x n rows and distances, nearest first, and a flag per query (the
            same numbers as :meth:`nearest` of each row alone).
        """
        # The differences themselves, with no matrix product (which would hand a tiny
        # product to the BLAS library and its threads on every request), and summed over
        # the features, the innermost axis, as for one row.
        raws = np.atleast_2d(np.asarray(raws, dtype=float))
        difference = self.matrix[None, :, :] - self.standardise(raws)[:, None, :]
        difference *= difference
        distances = np.sqrt(np.add.reduce(difference, axis=2)) * self._unit
        if self.optional:
            lacking = np.isnan(raws[:, -self.optional :]).all(axis=1)
            if lacking.any():
                kept = difference[lacking, :, : -self.optional]
                unit = 1.0 / math.sqrt(max(kept.shape[2], 1))
                distances[lacking] = np.sqrt(np.add.reduce(kept, axis=2)) * unit
        order = np.argsort(distances, axis=1, kind="stable")[:, :n]
        nearest = distances[np.arange(len(order))[:, None], order]
        if not order.shape[1]:
            return order, nearest, np.zeros(len(order), dtype=bool)
        return order, nearest, nearest[:, 0] > self.ood_threshold

    def tasks_at(self, rows: np.ndarray, distances: np.ndarray) -> list[NeighbourTask]:
        """The training tasks at ``rows``, with their distances, for people."""
        return [
            NeighbourTask(self.task_ids[i], self.task_names[i], float(d))
            for i, d in zip(rows.tolist(), distances.tolist(), strict=True)
        ]

    def neighbours(self, raw: np.ndarray, n: int) -> tuple[list[NeighbourTask], bool]:
        """The ``n`` nearest training tasks and whether the task is out of distribution."""
        rows, distances, out = self.nearest(raw, n)
        return self.tasks_at(rows, distances), out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a bundle."""
        return {
            "feature_names": list(self.feature_names),
            "task_ids": list(self.task_ids),
            "task_names": list(self.task_names),
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
            "matrix": self.matrix.tolist(),
            # Fewer than 3 training tasks: no threshold (infinite), which JSON cannot hold.
            "ood_threshold": self.ood_threshold if math.isfinite(self.ood_threshold) else None,
            **({"optional": self.optional} if self.optional else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskIndex:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(data["feature_names"]),
            tuple(data["task_ids"]),
            tuple(data["task_names"]),
            np.asarray(data["center"], dtype=float),
            np.asarray(data["scale"], dtype=float),
            np.asarray(data["matrix"], dtype=float).reshape(len(data["task_ids"]), -1),
            math.inf if data["ood_threshold"] is None else float(data["ood_threshold"]),
            int(data.get("optional", 0)),
        )


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * a @ b.T
    distances = np.sqrt(np.maximum(squared, 0.0)) / np.sqrt(max(a.shape[1], 1))
    return np.asarray(distances, dtype=float)
