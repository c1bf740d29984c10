"""The shapes every task suite shares: loaded tasks, listing entries, the Suite base.

A suite lists its tasks cheaply (from a manifest or from what it knows
statically) and loads one task at a time, so a runner never holds more than
the dataset it is working on.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from warmstart.metamodel.errors import NotFoundError
from warmstart.metamodel.types import Task, TaskType

__all__ = ["Suite", "TaskData", "TaskInfo"]


@dataclass(frozen=True)
class TaskData:
    """One loaded task: its description and its data, as the source had them.

    Attributes:
        task: The task, identified by a hash of ``X`` and ``y``.
        X: Feature columns with their original dtypes (categorical columns may
            be object, string or category; NaN allowed). Not encoded, not imputed.
        y: Class labels as they are, or float regression targets. Never missing.
    """

    task: Task
    X: Any  # pandas.DataFrame (pandas ships no type information)
    y: Any  # pandas.Series


@dataclass(frozen=True)
class TaskInfo:
    """A lightweight listing entry: what a suite knows about a task before loading it.

    Fields a suite cannot know without reading the data are ``None``.

    Attributes:
        name: The name to pass to :meth:`Suite.load` (unique within the suite).
        task_type: Binary, multiclass or regression, when known.
        family: Group of near-duplicate tasks (evaluation splits by family).
        n_rows: Number of rows, when known.
        n_features: Number of feature columns, when known.
        n_classes: Number of classes (classification), when known.
        synthetic: Whether the data were generated, when known.
    """

    name: str
    task_type: TaskType | None = None
    family: str | None = None
    n_rows: int | None = None
    n_features: int | None = None
    n_classes: int | None = None
    synthetic: bool | None = None


class Suite(ABC):
    """A named collection of tasks that are listed cheaply and loaded lazily.

    Attributes:
        kind: The suite kind, used as each task's ``source`` (``"pmlb"``,
            ``"files"``, ``"sklearn"``, ``"synthetic"``, ``"openml"``).
        name: Prefix of each task's name: a task ``t`` is named ``f"{name}/{t}"``.
    """

    kind: str
    name: str

    @abstractmethod
    def describe(self) -> str:
        """Return a one-line description of the suite for people.

        Returns:
            Text such as ``"pmlb: 215 tasks from /data/pmlb (manifest.csv)"``.
        """

    @abstractmethod
    def list_tasks(self) -> list[TaskInfo]:
        """List the suite's tasks without loading their data.

        Returns:
            One entry per task, in a stable order.
        """

    @abstractmethod
    def load(self, name: str) -> TaskData:
        """Load one task.

        Args:
            name: A name from :meth:`list_tasks`.

        Returns:
            The task with its features and target.

        Raises:
            NotFoundError: The suite has no task of that name.
            InvalidRequestError: The task's data are unreadable or unusable.
        """

    def task_names(self) -> list[str]:
        """Return the names of the suite's tasks, in listing order."""
        return [info.name for info in self.list_tasks()]

    def __iter__(self) -> Iterator[TaskData]:
        """Load the tasks one at a time, in listing order."""
        for name in self.task_names():
            yield self.load(name)

    def __len__(self) -> int:
        return len(self.list_tasks())

    def load_all(self) -> list[TaskData]:
        """Load every task (holds them all in memory: for small suites)."""
        return list(self)

    def _unknown_task(self, name: str) -> NotFoundError:
        """Build the error for a task name the suite does not have."""
        names = self.task_names()
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        shown = ", ".join(repr(n) for n in names[:5])
        more = f", ... ({len(names)} in all)" if len(names) > 5 else ""
        return NotFoundError(
            f"suite {self.name!r} has no task {name!r}.{hint} Valid names: {shown}{more}"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
