"""Two knowledge-base folders' records compared, record by record.

It answers the question a rebuild raises: did a build on an empty database
reproduce the shipped records? Records are matched by space, task, config,
seed and fidelity (and source, for folders holding client reports); a matched
pair is the same when its status is the same and its scores are equal, or
within a tolerance. Only the spaces the other folder holds are compared, so a
rebuild of some learners is checked on its own, and optionally only the tasks
it holds, so that a rebuild of part of the tasks (a shard) is too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from warmstart.benchmarks.kb._info import read_records_columns
from warmstart.benchmarks.kb._layout import KB_PROVENANCE, KB_RECORDS
from warmstart.benchmarks.kb._provenance import bundle_data_hashes
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError

__all__ = ["Difference", "KbComparison", "SpaceComparison", "compare_records"]

_KEY = ["space_name", "task_id", "config_hash", "seed", "fidelity", "source"]
_COLUMNS = [*_KEY, "task_name", "status", "score"]


@dataclass(frozen=True)
class Difference:
    """One record that is not the same in both folders (``None``: absent on that side)."""

    task_name: str
    config_hash: str
    seed: int
    ours: tuple[str, float] | None  # (status, score)
    theirs: tuple[str, float] | None


@dataclass(frozen=True)
class SpaceComparison:
    """One space's records in two knowledge-base folders.

    ``ours``/``theirs`` count records, ``*_not_ok`` those failed or timed out;
    ``same`` counts matched pairs with the same status and score, ``changed``
    matched pairs that differ, ``only_ours``/``only_theirs`` records without a
    partner. ``largest_gap`` is the largest score difference of a pair with the same
    status, relative to the larger score (absolute below 1). ``data_hashes`` are the
    trained bundles' training-data hashes from each folder's ``provenance.json``
    (``None`` where it has none).
    """

    space: str
    ours: int
    theirs: int
    ours_not_ok: int
    theirs_not_ok: int
    same: int
    changed: int
    only_ours: int
    only_theirs: int
    largest_gap: float
    data_hashes: tuple[str | None, str | None]
    differences: tuple[Difference, ...]

    @property
    def identical(self) -> bool:
        """Every record has its partner with the same status and score."""
        return self.changed == 0 and self.only_ours == 0 and self.only_theirs == 0


@dataclass(frozen=True)
class KbComparison:
    """The spaces of the other folder compared, by name, and those only ours holds."""

    spaces: tuple[SpaceComparison, ...]
    not_compared: tuple[str, ...]

    @property
    def differing(self) -> list[SpaceComparison]:
        """The spaces with a record that differs or lacks its partner."""
        return [space for space in self.spaces if not space.identical]

    @property
    def same(self) -> int:
        """Matched pairs that are the same, over all compared spaces."""
        return sum(space.same for space in self.spaces)


def _read_records(folder: Path) -> pd.DataFrame:
    path = folder / KB_RECORDS
    if not folder.is_dir():
        raise FailedPreconditionError(f"no knowledge base folder at {folder}")
    if not path.is_file():
        raise FailedPreconditionError(f"{folder} has no {KB_RECORDS}")
    frame = read_records_columns(path, _COLUMNS).to_pandas()
    frame["source"] = frame["source"].fillna("")
    # Records that share a key (client reports of one config) pair up in file order.
    frame["occurrence"] = frame.groupby(_KEY, dropna=False).cumcount()
    return frame


def _side(row: Any, suffix: str) -> tuple[str, float] | None:
    status = row[f"status{suffix}"]
    if not isinstance(status, str):
        return None
    score = row[f"score{suffix}"]
    return status, float(score) if score is not None else math.nan


def compare_records(
    ours: Path,
    theirs: Path,
    *,
    tolerance: float = 0.0,
    keep: int = 10,
    only_its_tasks: bool = False,
) -> KbComparison:
    """Compare the records of the spaces ``theirs`` holds with ``ours``.

    Args:
        ours: The reference folder (the shipped ``kb/``).
        theirs: The other folder (a rebuild's ``--out``).
        tolerance: Largest score difference still counted as the same, relative to
            the larger of the two scores (absolute where both are below 1 in size).
        keep: How many differing records to keep per space.
        only_its_tasks: Compare, in each space, only the tasks ``theirs`` has records of
            (a rebuild of part of the tasks); default: every record of the space.

    Returns:
        One comparison per space of ``theirs``, by name, and the spaces only ``ours``
        holds (not compared).

    Raises:
        InvalidRequestError: ``tolerance`` is negative or not a number.
        FailedPreconditionError: A folder or its records file is missing or unreadable.
    """
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise InvalidRequestError(f"--tolerance must be a finite number >= 0, got {tolerance}")
    left, right = _read_records(ours), _read_records(theirs)
    if only_its_tasks:
        held = right[["space_name", "task_id"]].drop_duplicates()
        left = left.merge(held, on=["space_name", "task_id"], how="inner")
    hashes = (bundle_data_hashes(ours / KB_PROVENANCE), bundle_data_hashes(theirs / KB_PROVENANCE))
    merged = left.merge(
        right, on=[*_KEY, "occurrence"], how="outer", suffixes=("_o", "_t"), indicator=True
    )
    both = merged["_merge"] == "both"
    mine, yours = merged["score_o"].astype(float), merged["score_t"].astype(float)
    # Relative to the larger score, absolute below 1: scores range from R^2 near 1 to
    # -1e7 on regression tasks a config fails badly.
    scale = np.maximum(np.maximum(mine.abs(), yours.abs()), 1.0)
    merged["gap"] = ((mine - yours).abs() / scale).where(both, np.nan)
    equal_scores = (merged["gap"] <= tolerance) | (mine.isna() & yours.isna())
    merged["same"] = both & (merged["status_o"] == merged["status_t"]) & equal_scores
    spaces = sorted(set(right["space_name"]))
    results = []
    for space in spaces:
        rows = merged[merged["space_name"] == space]
        ours_rows, theirs_rows = (
            left[left["space_name"] == space],
            right[right["space_name"] == space],
        )
        same_status = rows[rows["status_o"] == rows["status_t"]]["gap"]
        differing = rows[~rows["same"]]
        differences = tuple(
            Difference(
                task_name=str(row["task_name_o"] if isinstance(row["task_name_o"], str)
                              else row["task_name_t"]),
                config_hash=str(row["config_hash"]),
                seed=int(row["seed"]),
                ours=_side(row, "_o"),
                theirs=_side(row, "_t"),
            )
            for _, row in differing.head(keep).iterrows()
        )  # fmt: skip
        results.append(
            SpaceComparison(
                space=space,
                ours=len(ours_rows),
                theirs=len(theirs_rows),
                ours_not_ok=int((ours_rows["status"] != "ok").sum()),
                theirs_not_ok=int((theirs_rows["status"] != "ok").sum()),
                same=int(rows["same"].sum()),
                changed=int((rows["_merge"] == "both").sum() - rows["same"].sum()),
                only_ours=int((rows["_merge"] == "left_only").sum()),
                only_theirs=int((rows["_merge"] == "right_only").sum()),
                largest_gap=float(same_status.max()) if same_status.notna().any() else 0.0,
                data_hashes=(hashes[0].get(space), hashes[1].get(space)),
                differences=differences,
            )
        )
    not_compared = sorted(set(left["space_name"]) - set(spaces))
    return KbComparison(tuple(results), tuple(not_compared))
