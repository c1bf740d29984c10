"""A LightGBM booster's trees read from its text model into flat node arrays.

:class:`~warmstart.metamodel.surrogate._compiled.CompiledTrees` needs, for every split
node, its feature, threshold, decision flags and the leaves under each of its two ways,
and for every tree its leaf values. ``Booster.dump_model`` gives them as nested JSON
that Python must decode and walk node by node, most of the time it takes to load a
surrogate; the text model (``Booster.model_to_string``) holds the same numbers as one
line of values per field and tree, printed exactly (17 significant digits), and is read
here with a few string splits per tree.

Text model fields used, per tree: ``num_leaves``, ``split_feature``, ``threshold``,
``decision_type`` (bit 0: categorical, bit 1: default left, bits 2-3: missing type
None / Zero / NaN), ``left_child`` and ``right_child`` (a negative child ``c`` is leaf
``~c``), ``leaf_value``, ``cat_boundaries`` and ``cat_threshold`` (a categorical node's
threshold indexes ``cat_boundaries``; its categories are the set bits of the 32-bit
words between two boundaries) and ``is_linear``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import lightgbm as lgb
import numpy as np

from warmstart.metamodel.errors import FailedPreconditionError

__all__ = ["BoosterTrees", "SplitNodes", "read_trees"]

_CATEGORICAL, _DEFAULT_LEFT = 1, 2


@dataclass(frozen=True)
class SplitNodes:
    """Split nodes as parallel arrays, one entry per node.

    Attributes:
        tree: Each node's tree.
        feature: Each node's input column.
        threshold: Each numerical node's threshold (NaN at categorical nodes).
        categorical: Whether a node splits on categories.
        missing: Each node's missing type (0 None, 1 Zero, 2 NaN).
        default_left: Whether a missing value goes left.
        left_leaves: The leaves under each node's left way, as a bit mask.
        right_leaves: The leaves under its right way.
    """

    tree: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    categorical: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    left_leaves: np.ndarray
    right_leaves: np.ndarray

    def __len__(self) -> int:
        return len(self.tree)

    def take(self, index: np.ndarray) -> SplitNodes:
        """The nodes at ``index`` (positions or a boolean mask), in its order."""
        return SplitNodes(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def joined(parts: Sequence[SplitNodes]) -> SplitNodes:
        """The nodes of ``parts``, one after the other."""
        return SplitNodes(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(SplitNodes)
            }
        )


@dataclass(frozen=True)
class BoosterTrees:
    """One booster's split nodes (flat, tree by tree; trees numbered from 0) and leaves.

    Attributes:
        n_features: Inputs the booster takes.
        nodes: Every split node.
        categories: The codes that go left at each categorical node (by node index).
        leaf_values: Trees x leaves (zero beyond a tree's leaves).
        leaf_sets: Each tree's mask of all its leaves.
    """

    n_features: int
    nodes: SplitNodes
    categories: dict[int, list[int]]
    leaf_values: np.ndarray
    leaf_sets: np.ndarray

    @property
    def n_trees(self) -> int:
        """Trees of the booster."""
        return int(self.leaf_values.shape[0])


def read_trees(booster: lgb.Booster, max_leaves: int) -> BoosterTrees:
    """The booster's trees, checked to be compilable.

    Args:
        booster: A trained regression booster.
        max_leaves: The most leaves a tree may have (the masks' width in bits).

    Raises:
        FailedPreconditionError: Not a single-output, summed regression booster, a tree
            with more than ``max_leaves`` leaves, or a linear tree (the reason is said).
    """
    text = booster.model_to_string()
    head, _, body = text.partition("\nTree=")
    header = _fields(head)
    objective = header.get("objective", "")
    if objective.split(" ")[0] != "regression":
        raise FailedPreconditionError(
            f"only regression boosters can be compiled, got objective {objective!r}"
        )
    if int(header.get("num_tree_per_iteration", "1")) != 1 or "average_output" in header:
        raise FailedPreconditionError("only single-output, summed boosters can be compiled")
    n_features = int(header["max_feature_idx"]) + 1
    blocks = [_fields(b) for b in body.split("end of trees", 1)[0].split("\nTree=")] if body else []
    n_leaves = np.array([int(f["num_leaves"]) for f in blocks], dtype=np.int64)
    if len(blocks) and n_leaves.max() > max_leaves:
        raise FailedPreconditionError(
            f"a tree has {n_leaves.max()} leaves; at most {max_leaves} can be compiled "
            f"(train the surrogate with num_leaves <= {max_leaves})"
        )
    if any(f.get("is_linear", "0") != "0" for f in blocks):
        raise FailedPreconditionError("linear trees cannot be compiled")
    # Every tree's line of a field joined, read at once; trees of one leaf have no nodes.
    split = [f for f in blocks if int(f["num_leaves"]) > 1]
    n_nodes = n_leaves[n_leaves > 1] - 1

    def joined(key: str) -> np.ndarray:
        return np.array(" ".join(f[key] for f in split).split(), dtype=float)

    values = np.zeros((len(blocks), max_leaves))
    leaf_value = np.array(" ".join(f["leaf_value"] for f in blocks).split(), dtype=float)
    columns = np.arange(max_leaves)[None, :] < n_leaves[:, None]
    values[columns] = leaf_value
    tree = np.repeat(np.flatnonzero(n_leaves > 1), n_nodes).astype(np.intp)
    decision = joined("decision_type").astype(np.int64)
    threshold = joined("threshold")
    left_leaves, right_leaves = _leaves_under(
        joined("left_child").astype(np.int64), joined("right_child").astype(np.int64), n_nodes
    )
    categorical = (decision & _CATEGORICAL) != 0
    categories: dict[int, list[int]] = {}
    first = np.concatenate([[0], np.cumsum(n_nodes)])
    for t, tree_fields in enumerate(split):
        at = np.flatnonzero(categorical[first[t] : first[t + 1]])
        if not len(at):
            continue
        bounds = _numbers(tree_fields["cat_boundaries"])
        words = _numbers(tree_fields["cat_threshold"])
        for node in at.tolist():
            index = int(threshold[first[t] + node])
            categories[int(first[t]) + node] = _set_bits(words[bounds[index] : bounds[index + 1]])
    nodes = SplitNodes(
        tree=tree,
        feature=joined("split_feature").astype(np.intp),
        threshold=np.where(categorical, np.nan, threshold),
        categorical=categorical,
        missing=((decision >> 2) & 3).astype(np.int8),
        default_left=(decision & _DEFAULT_LEFT) != 0,
        left_leaves=left_leaves,
        right_leaves=right_leaves,
    )
    return BoosterTrees(
        n_features=n_features,
        nodes=nodes,
        categories=categories,
        leaf_values=values,
        leaf_sets=np.array([(1 << int(n)) - 1 for n in n_leaves], dtype=np.uint64),
    )


def _fields(block: str) -> dict[str, str]:
    """A block's ``key=value`` lines; a line without ``=`` is a flag (``average_output``),
    kept with an empty value (so is a tree block's first line, its number)."""
    out = {}
    for line in block.splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def _numbers(line: str) -> np.ndarray:
    return np.array(line.split(), dtype=np.int64)


def _leaves_under(
    left: np.ndarray, right: np.ndarray, n_nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each node's masks of the leaves under its left and its right child, for trees of
    ``n_nodes`` nodes each, listed one tree after the other.

    A node's children are split after it, so they have higher indices: walking a tree's
    nodes from the last, a child's leaves are known before its parent needs them.
    """
    out_left, out_right = [0] * len(left), [0] * len(left)
    start = 0
    lefts, rights = left.tolist(), right.tolist()
    for n in n_nodes.tolist():
        under = [0] * n
        for node in range(n - 1, -1, -1):
            a, b = lefts[start + node], rights[start + node]
            if node >= (a if a >= 0 else n) or node >= (b if b >= 0 else n):
                raise FailedPreconditionError("a tree's nodes are not numbered parents first")
            mask_left = 1 << ~a if a < 0 else under[a]
            mask_right = 1 << ~b if b < 0 else under[b]
            out_left[start + node], out_right[start + node] = mask_left, mask_right
            under[node] = mask_left | mask_right
        start += n
    return np.array(out_left, dtype=np.uint64), np.array(out_right, dtype=np.uint64)


def _set_bits(words: np.ndarray) -> list[int]:
    """The codes whose bits are set in 32-bit words (word ``i`` holds codes 32i..32i+31)."""
    return [
        32 * i + bit
        for i, word in enumerate(words.tolist())
        for bit in range(32)
        if word >> bit & 1
    ]
