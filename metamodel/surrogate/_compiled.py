"""LightGBM regression trees re-evaluated as leaf masks, split into task and config decisions.

A surrogate row is a task's meta-features followed by an encoded config. Every
split of a tree tests one of the two sides, so the leaf a row reaches is the one
leaf allowed both by the task-side splits and by the config-side splits. Each
side's decisions give, per tree, a bit mask of the leaves they allow; the AND of
the two masks has exactly one bit set, the reached leaf.

This makes serving cheap: the config masks of every candidate known when a model
loads are computed once, and a request computes only its task's masks (one row)
and one AND per candidate and tree, in compiled loops (:mod:`warmstart.metamodel.kernels`),
instead of six LightGBM predict calls of a few dozen rows each. The results are
LightGBM's own (the same decisions and leaf values; sums may differ in the last bit), which the
tests check against ``Booster.predict`` on real bundles and on rows with NaN,
zero and out-of-range values.

A tree with no split on a task feature (the surrogate's config-only first stage,
or any such tree of a one-stage booster) gives a config the same leaf on every
task. Its leaf values are summed per booster when the config's masks are
computed, once per config, and a request evaluates only the task-dependent
trees: a config's row of masks is the masks of those trees followed by its
per-booster sums of the others (float64, stored bit for bit in the mask type,
so that any selection or stacking of rows keeps them together). Which trees
these are is read from the trees themselves, so a booster of any stage layout
compiles the same way.

The trees are read from each booster's text model (:mod:`._trees`): about a quarter of
what ``Booster.dump_model``'s JSON alone took to produce and decode.

Supported: regression trees (no output transform) of at most 64 leaves with
numerical and categorical splits, as :class:`~warmstart.metamodel.surrogate.Surrogate`
trains them; :class:`CompiledTrees` refuses anything else with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np

from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.kernels import leaf_sums, side_masks
from warmstart.metamodel.surrogate._trees import BoosterTrees, SplitNodes, read_trees

__all__ = ["CompiledSurrogate", "CompiledTrees"]

MAX_LEAVES = 64
"""Leaves per tree that one mask (at most 64 bits) can hold."""

_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float, compared as a double)
_NONE = 0  # missing type "None" (BoosterTrees.missing)


@dataclass(frozen=True)
class _Splits:
    """The split nodes that test one side's features, grouped by tree.

    ``nodes.feature`` indexes this side's columns; ``nodes.tree`` is each node's tree (a
    tree with no split on this side has one that excludes nothing); ``member`` says, for
    categorical nodes, which category codes go left (rows: nodes; columns: codes
    0..max). A row's way at each node follows LightGBM's rules
    (:func:`~warmstart.metamodel.kernels.side_masks`): NaN counts as 0 unless NaN is the
    missing value, so its way is fixed (``nan_left``); a missing value goes the
    default way; categorical values are truncated to codes, and NaN, negative codes
    and codes not in the node's set go right.
    """

    nodes: SplitNodes
    member: np.ndarray
    nan_left: np.ndarray

    def allowed(self, X: np.ndarray, all_leaves: np.ndarray) -> np.ndarray:
        """Rows x trees: the leaves each row's decisions on this side allow."""
        if not len(self.nodes):
            return np.tile(all_leaves, (X.shape[0], 1))
        return side_masks(X, self.arrays, all_leaves, _ZERO)

    @cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        """The node arrays by name, as ``warmstart.metamodel.kernels.side_masks`` takes them."""
        named = {f.name: getattr(self.nodes, f.name) for f in fields(self.nodes)}
        return {**named, "member": self.member, "nan_left": self.nan_left}


class CompiledTrees:
    """Several LightGBM regression boosters, evaluated from task and config leaf masks.

    Args:
        boosters: The models; :meth:`predict` returns one row of outputs per booster.
        n_task_features: Inputs ``[0, n_task_features)`` are the task's; the rest the config's.
        fold: Sum the trees that split on no task feature once per config, in
            :meth:`config_masks` (the default), rather than on every :meth:`predict`.
            The outputs are the same to rounding; False is the reference.

    Attributes:
        n_trees: Trees of all the boosters.
        task_trees: Indices of the trees a request evaluates (those that split on a task
            feature; every tree where ``fold`` is False), in booster and tree order.
        all_leaves: Each task tree's mask of all its leaves.
        mask_type: The unsigned integer type of the masks.

    Raises:
        FailedPreconditionError: A booster that cannot be compiled (the reason is said).
    """

    def __init__(
        self, boosters: Sequence[lgb.Booster], n_task_features: int, *, fold: bool = True
    ) -> None:
        read = [read_trees(booster, MAX_LEAVES) for booster in boosters]
        if len({r.n_features for r in read}) > 1:
            raise FailedPreconditionError("the boosters do not take the same inputs")
        if not sum(r.n_trees for r in read):
            raise FailedPreconditionError("there are no trees to compile")
        self.n_features = read[0].n_features
        self.n_task_features = n_task_features
        self.n_boosters = len(boosters)
        self.block_starts = np.cumsum([0, *(r.n_trees for r in read)])[:-1].astype(np.intp)
        trees = _joined(read, self.block_starts)
        values = trees.leaf_values
        # The narrowest unsigned type that holds every tree's leaves: masks are gathered
        # per request, so their size is memory traffic.
        width = max(int(trees.leaf_sets.max()).bit_length(), 1)
        self.mask_type: type[np.unsignedinteger[Any]] = next(
            t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= width
        )
        self.n_trees = trees.n_trees
        all_leaves = trees.leaf_sets.astype(self.mask_type)
        # Trees that split on a task feature depend on the request; the others are folded
        # into each config's per-booster sums.
        on_task = trees.nodes.feature < n_task_features
        depends = np.zeros(self.n_trees, dtype=bool)
        depends[trees.nodes.tree[on_task]] = True
        if not fold:
            depends[:] = True
        self.task_trees = np.flatnonzero(depends)
        fixed_trees = np.flatnonzero(~depends)
        renumber = np.cumsum(depends) - 1  # a task tree's position among the task trees
        booster_of = np.repeat(
            np.arange(self.n_boosters), np.diff([*self.block_starts, self.n_trees])
        )
        self._width = width
        self.values = np.ascontiguousarray(values[self.task_trees, :width]).reshape(-1)
        self.all_leaves = all_leaves[self.task_trees]
        self._bounds = _bounds(booster_of[self.task_trees], self.n_boosters)
        self._fixed_values = np.ascontiguousarray(values[fixed_trees, :width]).reshape(-1)
        self._fixed_leaves = all_leaves[fixed_trees][None]
        self._fixed_bounds = _bounds(booster_of[fixed_trees], self.n_boosters)
        self._fixed_trees = fixed_trees
        self._every_tree_leaves = all_leaves
        # One float64 per booster, stored as this many masks.
        self._sum_columns = self.n_boosters * 8 // np.dtype(self.mask_type).itemsize
        config_width = self.n_features - n_task_features
        # The task side's nodes numbered by task tree (every tree with one is a task tree).
        self.task = _splits(
            trees, on_task, renumber, 0, self.mask_type, len(self.task_trees), n_task_features
        )
        self.config = _splits(
            trees,
            ~on_task,
            np.arange(self.n_trees),
            n_task_features,
            self.mask_type,
            self.n_trees,
            config_width,
        )

    @property
    def config_width(self) -> int:
        """Columns of a config's row of :meth:`config_masks`."""
        return len(self.task_trees) + self._sum_columns

    def task_masks(self, task: np.ndarray) -> np.ndarray:
        """Tasks x task trees masks from the task side (one row of meta-features gives one
        row)."""
        return self.task.allowed(_side(task, self.n_task_features), self.all_leaves)

    def config_masks(self, encoded: np.ndarray) -> np.ndarray:
        """Configs x :attr:`config_width`: each config's masks of the task trees, then its
        per-booster sums of the other trees (see the module's docstring).

        Rows may be selected and stacked as any array's; :meth:`predict` reads them.
        """
        width = self.n_features - self.n_task_features
        masks = self.config.allowed(_side(encoded, width), self._every_tree_leaves)
        # A tree without task splits: the config's mask alone has one bit, its leaf.
        sums = leaf_sums(
            self._fixed_leaves,
            np.ascontiguousarray(masks[:, self._fixed_trees]),
            self._fixed_values,
            self._width,
            self._fixed_bounds,
            0,
            self.n_boosters,
        )
        packed = np.ascontiguousarray(sums.T).view(self.mask_type)
        return np.hstack([masks[:, self.task_trees], packed])

    def predict(
        self, task_mask: np.ndarray, config_masks: np.ndarray, boosters: slice = slice(None)
    ) -> np.ndarray:
        """Boosters x configs: the models' outputs for one task (its mask) and the configs.

        Args:
            task_mask: One task's masks (task trees,), or one row per config (configs x
                task trees), from :meth:`task_masks`.
            config_masks: Configs' rows from :meth:`config_masks`.
            boosters: Only these boosters (a slice of the compiled ones, step 1).
        """
        first, stop, _ = boosters.indices(self.n_boosters)
        tasks = task_mask.reshape(1, -1) if task_mask.ndim == 1 else task_mask
        out = leaf_sums(tasks, config_masks, self.values, self._width, self._bounds, first, stop)
        fixed = np.ascontiguousarray(config_masks[:, len(self.task_trees) :]).view(np.float64)
        out += fixed[:, first:stop].T
        return out

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        """Boosters x rows for full input rows (task features, then config), any tasks."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if not len(X):
            return np.zeros((self.n_boosters, 0))
        tasks = self.task_masks(X[:, : self.n_task_features])
        return self.predict(tasks, self.config_masks(X[:, self.n_task_features :]))


def _bounds(booster_of: np.ndarray, n_boosters: int) -> np.ndarray:
    """Each booster's first tree among trees listed by booster, then their number."""
    counts = np.bincount(booster_of, minlength=n_boosters)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)


def _side(X: np.ndarray, width: int) -> np.ndarray:
    matrix = np.atleast_2d(np.asarray(X, dtype=float))
    if matrix.shape[1] != width:
        raise FailedPreconditionError(f"expected {width} columns, got {matrix.shape[1]}")
    return matrix


def _joined(read: Sequence[BoosterTrees], block_starts: np.ndarray) -> BoosterTrees:
    """Several boosters' trees as one booster's, trees and nodes numbered across them."""
    first_node = np.cumsum([0, *(len(r.nodes) for r in read[:-1])])
    shifted = [
        replace(r.nodes, tree=r.nodes.tree + start)
        for r, start in zip(read, block_starts, strict=True)
    ]
    return BoosterTrees(
        n_features=read[0].n_features,
        nodes=SplitNodes.joined(shifted),
        categories={
            node + int(offset): codes
            for r, offset in zip(read, first_node, strict=True)
            for node, codes in r.categories.items()
        },
        leaf_values=np.vstack([r.leaf_values for r in read]),
        leaf_sets=np.concatenate([r.leaf_sets for r in read]),
    )


def _splits(
    trees: BoosterTrees,
    keep: np.ndarray,
    tree_number: np.ndarray,
    offset: int,
    mask_type: type[np.unsignedinteger[Any]],
    n_trees: int,
    width_of_side: int,
) -> _Splits:
    """One side's split nodes (``keep``), their trees renumbered by ``tree_number`` and
    their features by ``- offset``. Where the side has inputs, a tree with none of its
    nodes gets one that excludes no leaf, so that every tree has a node."""
    kept = np.flatnonzero(keep)
    nodes = trees.nodes.take(kept)
    nodes = replace(nodes, tree=tree_number[nodes.tree], feature=nodes.feature - offset)
    categories = {
        row: trees.categories[i] for row, i in enumerate(kept.tolist()) if i in trees.categories
    }
    if width_of_side > 0:
        lacking = np.setdiff1d(np.arange(n_trees), nodes.tree)
        n = len(lacking)
        none = SplitNodes(
            tree=lacking,
            feature=np.zeros(n, dtype=np.intp),
            threshold=np.zeros(n),
            categorical=np.zeros(n, dtype=bool),
            missing=np.full(n, _NONE, dtype=np.int8),
            default_left=np.ones(n, dtype=bool),
            left_leaves=np.zeros(n, dtype=np.uint64),
            right_leaves=np.zeros(n, dtype=np.uint64),
        )
        nodes = SplitNodes.joined([nodes, none])
    order = np.argsort(nodes.tree, kind="stable")
    position = np.empty(len(order), dtype=np.intp)
    position[order] = np.arange(len(order))
    width = max([max(c) + 1 for c in categories.values() if c] + [1])
    member = np.zeros((len(order), width), dtype=bool)
    for row, codes in categories.items():
        member[position[row], codes] = True
    nodes = nodes.take(order)  # fancy indexing: fresh, contiguous arrays
    nodes = replace(
        nodes,
        tree=nodes.tree.astype(np.intp),
        left_leaves=nodes.left_leaves.astype(mask_type),
        right_leaves=nodes.right_leaves.astype(mask_type),
    )
    # Where a NaN goes: the default way if NaN or 0 is the missing value (NaN counts as 0),
    # else as 0 compares; always right at a categorical node.
    with np.errstate(invalid="ignore"):
        nan_left = np.where(nodes.missing == _NONE, nodes.threshold >= 0.0, nodes.default_left)
    return _Splits(nodes, member, np.ascontiguousarray(nan_left & ~nodes.categorical))


class CompiledSurrogate:
    """A surrogate's ensemble and fit-time model, compiled for one split of its inputs.

    Args:
        members: The ensemble's boosters.
        fit_time: The fit-time booster (predicts ``log1p`` seconds), or ``None``.
        n_task_features: How many leading inputs are the task's meta-features.
        fold: Sum the trees that split on no task feature once per config
            (:class:`CompiledTrees`); False evaluates every tree per request.
    """

    def __init__(
        self,
        members: Sequence[lgb.Booster],
        fit_time: lgb.Booster | None,
        n_task_features: int,
        *,
        fold: bool = True,
    ) -> None:
        self.n_members = len(members)
        self.has_fit_time = fit_time is not None
        boosters = [*members, fit_time] if fit_time is not None else list(members)
        self.trees = CompiledTrees(boosters, n_task_features, fold=fold)

    def task(self, meta: np.ndarray) -> np.ndarray:
        """A task's masks (task trees,) from its raw meta-features (NaN: undefined)."""
        return np.asarray(self.trees.task_masks(meta)[0])

    def tasks(self, metas: np.ndarray) -> np.ndarray:
        """Tasks x task trees masks, one row of meta-features per task."""
        return self.trees.task_masks(metas)

    def configs(self, encoded: np.ndarray) -> np.ndarray:
        """Each encoded config's row of masks and folded sums
        (:meth:`CompiledTrees.config_masks`)."""
        if not len(encoded):
            return np.zeros((0, self.trees.config_width), dtype=self.trees.mask_type)
        return self.trees.config_masks(encoded)

    def scores(self, task: np.ndarray, configs: np.ndarray) -> np.ndarray:
        """Members x configs: the ensemble's predicted normalised scores."""
        if not len(configs):
            return np.zeros((self.n_members, 0))
        return self.trees.predict(task, configs, slice(0, self.n_members))

    def fit_seconds(self, task: np.ndarray, configs: np.ndarray) -> np.ndarray:
        """Predicted fit seconds of the configs (NaN when no fit times were recorded)."""
        if not self.has_fit_time or not len(configs):
            return np.full(len(configs), np.nan)
        log_seconds = self.trees.predict(task, configs, slice(self.n_members, None))[0]
        return _seconds(log_seconds)

    def scores_and_fit_seconds(
        self, task: np.ndarray, configs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`scores` and :meth:`fit_seconds` in one pass over the trees (same numbers)."""
        if not self.has_fit_time or not len(configs):
            return self.scores(task, configs), np.full(len(configs), np.nan)
        out = self.trees.predict(task, configs)
        return out[: self.n_members], _seconds(out[self.n_members])

    def scores_and_fit_seconds_many(
        self, tasks: np.ndarray, configs: Sequence[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`scores_and_fit_seconds` of several tasks, each with its own configs.

        Row ``i`` of ``tasks`` (:meth:`tasks`) is scored with ``configs[i]``
        (:meth:`configs`), each task's one row of masks serving all its configs (no
        copy of the masks per config). The numbers are those of one call per task.
        """
        if len(configs) != len(tasks):
            raise ValueError(f"{len(tasks)} tasks but {len(configs)} config sets")
        boosters = slice(None) if self.has_fit_time else slice(0, self.n_members)
        found = []
        for task, masks in zip(tasks, configs, strict=True):
            if not len(masks):
                found.append(self.scores_and_fit_seconds(task, masks))
                continue
            out = self.trees.predict(task, masks, boosters)
            if self.has_fit_time:
                found.append((out[: self.n_members], _seconds(out[self.n_members])))
            else:
                found.append((out, np.full(out.shape[1], np.nan)))
        return found


def _seconds(log_seconds: np.ndarray) -> np.ndarray:
    """Seconds from the fit-time model's ``log1p`` seconds (clipped to [0, 20] first)."""
    return np.asarray(np.expm1(np.clip(log_seconds, 0.0, 20.0)), dtype=float)
