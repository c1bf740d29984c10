"""What a refresh found and did: its plan, the serving model's training data, the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from warmstart.benchmarks.runner import RunSummary
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.refresh import Candidate, GateResult
from warmstart.metamodel.types import ModelVersion

__all__ = ["RefreshOutcome", "RefreshPlan", "RefreshResult", "ServedTrainingData"]


class RefreshOutcome(StrEnum):
    """How a refresh ended (also the ``outcome`` of its ``refresh`` model event)."""

    PUBLISHED = "published"
    """A new version was registered and serves the space."""
    UP_TO_DATE = "up to date"
    """The records are those the serving model was trained on: nothing was trained."""
    REFUSED = "refused"
    """The gate found the new model worse than allowed; the serving model is kept."""
    INTERRUPTED = "interrupted"
    """Stopped (Ctrl-C, or SIGTERM turned into it) before the publish; nothing was published."""


@dataclass(frozen=True)
class RefreshPlan:
    """The suite's tasks as the refresh found them, and the evaluations it chose.

    Attributes:
        space: The space refreshed.
        suite: The suite the tasks come from.
        task_names: Name in the suite of every task the learner can run, by task id.
        new_tasks: Ids of those tasks with no record of the space yet.
        known_tasks: Ids of those tasks with records.
        serving: The version serving when the refresh started (``None``: none).
        budget: Evaluations allowed.
        candidates: The chosen evaluations, in the order they run.
    """

    space: str
    suite: str
    task_names: dict[str, str]
    new_tasks: tuple[str, ...]
    known_tasks: tuple[str, ...]
    serving: str | None
    budget: int
    candidates: tuple[Candidate, ...]

    def reasons(self) -> dict[str, int]:
        """How many candidates were chosen for each reason, in order of first appearance."""
        counts: dict[str, int] = {}
        for candidate in self.candidates:
            counts[candidate.reason] = counts.get(candidate.reason, 0) + 1
        return counts

    def new_task_names(self) -> list[str]:
        """Sorted names of the new tasks that got evaluations."""
        return sorted(
            {self.task_names[c.task_id] for c in self.candidates if c.reason == "new task"}
        )


@dataclass(frozen=True)
class ServedTrainingData:
    """The records the serving model was trained on, as rebuilt for the gate.

    Attributes:
        version: The serving version.
        records: How many of today's records it was trained on.
        max_record_id: The record-id cut-off stored when it was published; ``None``: it
            has none (registered by ``warmstart train`` or quickstart), so the records
            created before it were taken.
        hash_matches: Whether the rebuilt set has the data hash the bundle recorded
            (``None``: its bundle could not be read).
    """

    version: str
    records: int
    max_record_id: int | None
    hash_matches: bool | None


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did.

    Attributes:
        outcome: How it ended.
        plan: The tasks found and the evaluations chosen (``None``: stopped before).
        run: The evaluations' run (``None``: nothing to evaluate, or stopped before).
        records: How many records the space had when training was decided (every
            source; 0: not reached).
        trained: The bundle trained on those records (``None``: nothing new to learn,
            or stopped before); published only if ``published`` is set.
        served: The serving model's training data as the gate rebuilt it (``None``:
            no gate).
        gate: The gate's comparison (``None``: no serving model to compare with, or not
            reached).
        published: The version registered and now serving (``None``: none).
        reason: One line on why it ended so.
    """

    outcome: RefreshOutcome
    plan: RefreshPlan | None
    run: RunSummary | None
    records: int
    trained: ModelBundle | None
    served: ServedTrainingData | None
    gate: GateResult | None
    published: ModelVersion | None
    reason: str

    @property
    def evaluations(self) -> int:
        """New records this refresh stored."""
        return self.run.stored if self.run is not None else 0
