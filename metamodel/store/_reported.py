"""Client-reported records checked against what is stored, and tasks listed a page at a time.

A client reports results under its own ids. Re-sending an id with the same payload
is a no-op (``already``); re-sending it with another payload is a conflict; a new id
whose evaluation (task, space, config, seed, fidelity) is stored already under
another id, or by a benchmark, is a ``duplicate``: it is not stored, and said.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from warmstart.metamodel.errors import WarmstartError
from warmstart.metamodel.store import _codec
from warmstart.metamodel.store._tables import records, search_spaces, tasks
from warmstart.metamodel.types import EvaluationRecord, Task

__all__ = ["ConflictError", "ReportOutcome", "TaskPage"]

_SHOWN_IDS = 10


class ConflictError(WarmstartError):
    """A client id is stored already with another payload (the service answers ALREADY_EXISTS)."""


@dataclass(frozen=True)
class ReportOutcome:
    """What storing a batch of client-reported records did.

    Attributes:
        stored: New records stored.
        already: Ids stored before with the same payload (nothing changed).
        duplicates: New ids whose evaluation is stored already under another id or by a
            benchmark: not stored.
    """

    stored: int
    already: int
    duplicates: tuple[str, ...]


@dataclass(frozen=True)
class TaskPage:
    """One page of tasks in (name, id) order.

    Attributes:
        tasks: The page's tasks.
        next_after: The (name, task id) to continue after, or ``None`` on the last page.
    """

    tasks: list[Task]
    next_after: tuple[str, str] | None


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _same_metrics(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return a.keys() == b.keys() and all(_same_number(a[k], b[k]) for k in a)


def same_payload(stored: EvaluationRecord, sent: EvaluationRecord) -> bool:
    """Whether two records say the same about one evaluation (ids and times aside)."""
    return (
        (stored.task_id, stored.space_id, stored.config_hash, stored.seed, stored.status)
        == (sent.task_id, sent.space_id, sent.config_hash, sent.seed, sent.status)
        and stored.fidelity == sent.fidelity
        and _same_number(stored.score, sent.score)
        and _same_number(stored.fit_seconds, sent.fit_seconds)
        and _same_metrics(stored.metrics, sent.metrics)
        and (stored.error or None) == (sent.error or None)
    )


def by_external_id(
    conn: sa.Connection, ids: Sequence[str], chunk: int
) -> dict[str, EvaluationRecord]:
    """The stored records among ``ids`` (client ids), by id."""
    out: dict[str, EvaluationRecord] = {}
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        query = sa.select(records).where(records.c.external_id.in_(part))
        for row in conn.execute(query).mappings():
            out[row["external_id"]] = _codec.record_from_row(row)
    return out


def check_conflicts(
    sent: Sequence[EvaluationRecord], stored: Mapping[str, EvaluationRecord]
) -> None:
    """Refuse a batch whose ids are stored with another payload.

    Raises:
        ConflictError: An id is stored with another payload (the ids are named).
    """
    conflicts = [
        r.external_id or ""
        for r in sent
        if (found := stored.get(r.external_id or "")) is not None and not same_payload(found, r)
    ]
    if conflicts:
        shown = ", ".join(repr(c) for c in conflicts[:_SHOWN_IDS])
        more = f" (and {len(conflicts) - _SHOWN_IDS} more)" if len(conflicts) > _SHOWN_IDS else ""
        raise ConflictError(
            f"result id(s) {shown}{more} were reported before with a different payload; "
            "an id names one evaluation for good: send a changed result under a new id "
            "(nothing of this batch was stored)"
        )


def outcome(
    sent: Sequence[EvaluationRecord],
    before: Mapping[str, EvaluationRecord],
    after: Mapping[str, EvaluationRecord],
    inserted: int,
) -> ReportOutcome:
    """What a batch did, from the records stored under its ids before and after its insert.

    An id absent before and after is a duplicate (its evaluation is stored under another
    id); one absent before and present after was stored by this batch, or by a concurrent
    report of the same id, which counts as ``already``.
    """
    fresh = [r for r in sent if (r.external_id or "") not in before]
    landed = sum(1 for r in fresh if (r.external_id or "") in after)
    duplicates = tuple(r.external_id or "" for r in fresh if (r.external_id or "") not in after)
    return ReportOutcome(inserted, len(sent) - len(fresh) + landed - inserted, duplicates)


def page_query(name_prefix: str, after: tuple[str, str] | None, limit: int) -> Any:
    """The tasks whose name starts with ``name_prefix`` after ``after``, in (name, id) order.

    The prefix is compared with ``substr`` rather than ``LIKE``: the same, case-sensitive
    answer on SQLite and PostgreSQL, with no wildcard to escape.
    """
    query = sa.select(tasks)
    if name_prefix:
        query = query.where(sa.func.substr(tasks.c.name, 1, len(name_prefix)) == name_prefix)
    if after is not None:
        name, task_id = after
        query = query.where(
            sa.or_(tasks.c.name > name, sa.and_(tasks.c.name == name, tasks.c.task_id > task_id))
        )
    return query.order_by(tasks.c.name, tasks.c.task_id).limit(limit + 1)


def counts_query(task_id: str) -> Any:
    """Records of a task per space version: (space id, space name, count), by name and id."""
    return (
        sa.select(search_spaces.c.space_id, search_spaces.c.name, sa.func.count())
        .select_from(records.join(search_spaces))
        .where(records.c.task_id == task_id)
        .group_by(search_spaces.c.space_id, search_spaces.c.name)
        .order_by(search_spaces.c.name, search_spaces.c.space_id)
    )
