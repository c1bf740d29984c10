"""``warmstart kb compare``: a rebuilt knowledge base against another, record by record.

Registered on the ``kb`` command group of :mod:`warmstart.service.cli._kb`. It answers the
question a rebuild raises: did ``warmstart kb build`` on an empty database
reproduce the shipped records? Records are matched by space, task, config, seed
and fidelity (and source, for folders holding client reports); a matched pair is
the same when its status is the same and its scores are equal, or within
``--tolerance``. Only the spaces the other folder holds are compared, so a
rebuild of some learners (``kb build --learners``) is checked on its own, and with
``--only-its-tasks`` only the tasks the other folder holds, so that a rebuild of
part of the tasks (``kb build --shard``) is too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from warmstart.benchmarks.kb import KB_RECORDS, default_kb_dir
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.service.cli._common import console, err_console, handle_errors
from warmstart.service.cli._kb import EXIT_CHANGED, PROVENANCE_FILE, app, read_records_columns

__all__ = ["Difference", "SpaceComparison", "compare", "compare_records"]

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


def _data_hashes(folder: Path) -> dict[str, str]:
    """Each space's bundle training-data hash, from provenance.json if there is one."""
    path = folder / PROVENANCE_FILE
    if not path.is_file():
        return {}
    try:
        spaces = json.loads(path.read_text(encoding="utf-8")).get("spaces") or {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise FailedPreconditionError(f"{path} is not readable JSON: {exc}") from None
    hashes: dict[str, str] = {}
    if not isinstance(spaces, dict):
        return hashes  # not a provenance file of kb build: no hashes to show
    for name, entry in spaces.items():
        bundle = entry.get("bundle") if isinstance(entry, dict) else None
        training = bundle.get("training") if isinstance(bundle, dict) else None
        if isinstance(training, dict) and isinstance(training.get("data_hash"), str):
            hashes[name] = training["data_hash"]
    return hashes


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
) -> tuple[list[SpaceComparison], list[str]]:
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
    hashes = (_data_hashes(ours), _data_hashes(theirs))
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
    return results, not_compared


def _shown(side: tuple[str, float] | None) -> str:
    if side is None:
        return "absent"
    status, score = side
    return status if math.isnan(score) else f"{status} {score:.10g}"


def _hash_check(hashes: tuple[str | None, str | None]) -> str:
    if hashes[0] is None or hashes[1] is None:
        return "-"
    same = "same" if hashes[0] == hashes[1] else "differs"
    return f"{same} ({hashes[0][:8]} / {hashes[1][:8]})"


@app.command()
@handle_errors
def compare(
    other: Annotated[
        Path, typer.Argument(help="The folder to check, e.g. a rebuild's kb build --out.")
    ],
    kb: Annotated[
        Path | None,
        typer.Option(help="Reference knowledge-base folder (default: kb/ of the source tree)."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            help="Largest score difference still counted as the same, relative to the larger "
            "score (absolute below 1); 0: equal."
        ),
    ] = 0.0,
    show: Annotated[int, typer.Option(min=0, help="Differing records listed per space.")] = 10,
    only_its_tasks: Annotated[
        bool,
        typer.Option(
            "--only-its-tasks",
            help="Compare only the tasks OTHER has records of, space by space (a rebuild of "
            "part of the tasks, kb build --shard); without it, a task OTHER lacks counts as "
            "records 'only here'.",
        ),
    ] = False,
) -> None:
    """Compare another knowledge base's records with this one's, space by space.

    Records are matched by task, config and seed; a pair is the same when status and
    score are (scores within --tolerance). Only the spaces OTHER holds are compared (a
    rebuild of some learners is checked on its own), and with --only-its-tasks only the
    tasks it holds. Exit code 1 if any record differs or lacks its partner.
    """
    reference = kb if kb is not None else default_kb_dir()
    results, not_compared = compare_records(
        reference, other, tolerance=tolerance, keep=show, only_its_tasks=only_its_tasks
    )
    table = Table(
        "space", "records", "other", "not ok", "other not ok", "same", "changed",
        "only here", "only other", "largest gap", "training data hash",
        title=f"{reference} (here) against {other} (other)",
    )  # fmt: skip
    for r in results:
        table.add_row(
            r.space,
            *(f"{n:,}" for n in (r.ours, r.theirs, r.ours_not_ok, r.theirs_not_ok, r.same)),
            *(f"{n:,}" for n in (r.changed, r.only_ours, r.only_theirs)),
            f"{r.largest_gap:.2g}",
            _hash_check(r.data_hashes),
        )
    console.print(table)
    if not_compared:
        console.print(f"not in {other}, not compared: {', '.join(not_compared)}", markup=False)
    differing = [r for r in results if not r.identical]
    for r in differing:
        listed = Table("task", "config", "seed", "here", "other", title=f"{r.space}: differing")
        for d in r.differences:
            listed.add_row(d.task_name, d.config_hash[:12], str(d.seed), _shown(d.ours),
                           _shown(d.theirs))  # fmt: skip
        if r.differences:
            console.print(listed)
    if differing:
        err_console.print(
            f"{len(differing)} of {len(results)} spaces differ: "
            + ", ".join(
                f"{r.space} ({r.changed + r.only_ours + r.only_theirs:,} records)"
                for r in differing
            ),
            markup=False,
        )
        raise typer.Exit(EXIT_CHANGED)
    total = sum(r.same for r in results)
    console.print(f"all {total:,} records of {len(results)} spaces are the same")
