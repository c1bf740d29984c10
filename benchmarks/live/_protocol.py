"""The protocol the stored records were evaluated with, read back from their metrics.

A record keeps ``folds`` (how many splits were averaged) and ``rows_used``
(rows after the row cap) among its metrics, and its seed, which fixed the
splits and the model's randomness. Live evaluation re-uses all three, so a
live score is comparable with the task's stored scores (and a config already
in the store scores the same again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from warmstart.benchmarks.runner import Protocol
from warmstart.metamodel.types import EvaluationRecord, RecordStatus, Task

__all__ = ["DEFAULT_PROTOCOL", "RecordedProtocol", "recorded_protocol", "resolve_protocol"]

DEFAULT_PROTOCOL = Protocol(folds=3, row_cap=2000)
"""What live mode uses when the records do not say (the PMLB meta-data's protocol)."""


@dataclass(frozen=True)
class RecordedProtocol:
    """What the records say about how they were evaluated.

    Attributes:
        folds: The most common number of CV folds (``None``: not recorded, or a hold-out split).
        row_cap: The row cap seen on tasks with more rows than were used
            (``None``: no task was capped).
        any_capped: Whether some task was evaluated on fewer rows than it has.
        seed: The most common record seed (``None``: no records).
    """

    folds: int | None
    row_cap: int | None
    any_capped: bool
    seed: int | None


def recorded_protocol(
    records: Iterable[EvaluationRecord], tasks: Mapping[str, Task]
) -> RecordedProtocol:
    """Read folds, row cap and seed back from successful records.

    Args:
        records: Records of one space.
        tasks: Stored tasks by id (for their row counts).

    Returns:
        The most common value of each (records may mix protocols; the most
        common one is the one most scores were measured with).
    """
    folds: Counter[int] = Counter()
    caps: Counter[int] = Counter()
    seeds: Counter[int] = Counter()
    for record in records:
        if record.status is not RecordStatus.OK:
            continue
        seeds[record.seed] += 1
        n_folds = record.metrics.get("folds")
        if n_folds is not None and n_folds >= 2:
            folds[int(n_folds)] += 1
        used = record.metrics.get("rows_used")
        task = tasks.get(record.task_id)
        if used is not None and task is not None and int(used) < task.n_rows:
            caps[int(used)] += 1
    return RecordedProtocol(
        folds=_most_common(folds),
        row_cap=_most_common(caps),
        any_capped=bool(caps),
        seed=_most_common(seeds),
    )


def _most_common(counter: Counter[int]) -> int | None:
    if not counter:
        return None
    # Ties go to the larger value (a row cap seen on tasks of different sizes is the max).
    return max(counter, key=lambda value: (counter[value], value))


def resolve_protocol(
    recorded: RecordedProtocol,
    *,
    folds: int | None = None,
    row_cap: int | None = None,
    seed: int | None = None,
) -> tuple[Protocol, int, str]:
    """The protocol and seed to evaluate with: the caller's, else the records', else the default.

    Args:
        recorded: What the stored records say.
        folds: CV folds, overriding the records.
        row_cap: Row cap overriding the records (0: no cap).
        seed: Seed of the splits and models, overriding the records.

    Returns:
        The protocol, the seed, and a sentence saying where they came from.
    """
    n_folds = folds or recorded.folds or DEFAULT_PROTOCOL.folds
    if row_cap is not None:
        cap = row_cap or None
    elif recorded.any_capped:
        cap = recorded.row_cap
    elif recorded.folds is not None:
        cap = None  # every stored evaluation used all of its task's rows
    else:
        cap = DEFAULT_PROTOCOL.row_cap
    chosen_seed = seed if seed is not None else (recorded.seed or 0)
    protocol = Protocol(folds=n_folds, row_cap=cap)
    if recorded.folds is None:
        said = "the stored records do not say"
    else:
        capped = f"rows capped at {recorded.row_cap:,}" if recorded.any_capped else "no task capped"
        said = f"the stored records: {recorded.folds}-fold CV, {capped}, seed {recorded.seed}"
    given = [
        name
        for name, value in (("folds", folds), ("row cap", row_cap), ("seed", seed))
        if value is not None
    ]
    source = f"{', '.join(given)} set by the caller; {said}" if given else said
    return protocol, chosen_seed, f"{protocol.describe()}, seed {chosen_seed} ({source})"
