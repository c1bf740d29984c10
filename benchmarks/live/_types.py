"""Live mode's settings and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from warmstart.benchmarks.runner import Protocol
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.errors import InvalidRequestError

__all__ = [
    "BASELINES",
    "FLAML_METHODS",
    "LIVE_METHODS",
    "SINGLE_CONFIG_METHODS",
    "SIZE_BUCKETS",
    "LiveEvaluation",
    "LiveSettings",
    "LiveTaskResult",
    "WinTieLoss",
    "regret_at",
    "size_bucket",
]

LIVE_METHODS = (
    "warmstart",
    "default",
    "single_best",
    "greedy_portfolio",
    "nearest_neighbour",
    "flaml_zeroshot",
    "flaml_space",
)
"""Every method live mode knows; the FLAML ones only for LightGBM with FLAML installed."""

BASELINES = LIVE_METHODS[1:]

FLAML_METHODS = ("flaml_zeroshot", "flaml_space")
"""The baselines that need FLAML (and the LightGBM space)."""

SINGLE_CONFIG_METHODS = frozenset({"default", "single_best", "flaml_zeroshot"})
"""Methods that train one config per task; the others train ``max(ks)`` and report best of k."""

SIZE_BUCKETS = ("<= 2k", "2k-20k", "> 20k")
"""Buckets of the rows a task's evaluation used (after any row cap)."""

_TIE = 1e-12


def size_bucket(rows: int) -> str:
    """The bucket of :data:`SIZE_BUCKETS` that ``rows`` used rows fall in."""
    if rows <= 2_000:
        return SIZE_BUCKETS[0]
    return SIZE_BUCKETS[1] if rows <= 20_000 else SIZE_BUCKETS[2]


@dataclass(frozen=True)
class LiveSettings:
    """How the live evaluation runs.

    Attributes:
        ks: Report best-of-k regret at these k; ``max(ks)`` configs are trained
            per task for warmstart, ``greedy_portfolio``, ``nearest_neighbour``
            and ``flaml_space``; the other baselines are one config each.
        n_folds: Leave-family-out folds (as pool mode).
        seed: Seed of the folds, of the task choice and of the training (as pool mode).
        max_tasks: Evaluate at most this many held-out tasks, spread over families.
        min_rows: Hold out only tasks of at least this many rows (the store's count).
        max_rows: Hold out only tasks of at most this many rows.
        cv_folds: CV folds of a live evaluation; ``None``: as the stored records
            (3 when they do not say).
        row_cap: Row cap; ``None``: as the stored records (2000 when they do not
            say); 0: no cap.
        cv_seed: Seed of the CV splits and of the models; ``None``: the records'.
        workers: Held-out tasks trained at once, each in its own process (1: in this one).
        time_limit: Wall seconds one config's whole CV evaluation may take; each
            config then runs in a worker process that is killed past it, and
            counts as failed (the worst). ``None``: no limit, configs are
            trained in the process of their task.
        flaml: Include the FLAML baselines, zero-shot and configs sampled from
            FLAML's space (LightGBM only).
        train: How each fold's bundle is trained.
    """

    ks: tuple[int, ...] = (1, 3, 5)
    n_folds: int = 5
    seed: int = 0
    max_tasks: int | None = None
    min_rows: int | None = None
    max_rows: int | None = None
    cv_folds: int | None = None
    row_cap: int | None = None
    cv_seed: int | None = None
    workers: int = 1
    time_limit: float | None = None
    flaml: bool = True
    train: TrainSettings = field(default_factory=TrainSettings)

    def check(self) -> None:
        """Refuse settings that cannot run.

        Raises:
            InvalidRequestError: Naming the setting, its value and what is allowed.
        """
        if not self.ks or any(k < 1 for k in self.ks) or 1 not in self.ks:
            raise InvalidRequestError(f"ks must be integers >= 1 including 1, got {self.ks!r}")
        if self.n_folds < 2:
            raise InvalidRequestError(f"n_folds must be >= 2, got {self.n_folds}")
        if self.max_tasks is not None and self.max_tasks < 1:
            raise InvalidRequestError(f"max_tasks must be >= 1, got {self.max_tasks}")
        for name in ("min_rows", "max_rows"):
            rows = getattr(self, name)
            if rows is not None and rows < 1:
                raise InvalidRequestError(f"{name} must be an integer >= 1, got {rows}")
        if self.min_rows and self.max_rows and self.min_rows > self.max_rows:
            raise InvalidRequestError(
                f"min_rows ({self.min_rows}) must not exceed max_rows ({self.max_rows})"
            )
        if self.cv_folds is not None and self.cv_folds < 2:
            raise InvalidRequestError(f"cv_folds must be >= 2, got {self.cv_folds}")
        if self.row_cap is not None and self.row_cap < 0:
            raise InvalidRequestError(f"row_cap must be >= 0 (0: no cap), got {self.row_cap}")
        if self.workers < 1:
            raise InvalidRequestError(
                f"workers must be >= 1 (held-out tasks trained at once), got {self.workers}"
            )
        limit = self.time_limit
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0
        ):
            raise InvalidRequestError(
                f"time_limit must be a number of seconds > 0 (None: no limit), got {limit!r}"
            )


@dataclass(frozen=True)
class LiveTaskResult:
    """What happened on one held-out task.

    Attributes:
        rows_used: Rows the evaluation used (the task's rows, or the row cap).
        scores: Live score of each method's first config (NaN: it failed).
        warmstart_scores: Live scores of warmstart's suggestions, in order.
        config_scores: Live scores of each method's configs, in order.
        regret: Normalised regret per method and k (one-config methods at k = 1 only).
        best: Best score over the comparable stored records and the live evaluations.
        worst: Worst score over the same.
        n_stored: Stored configs whose scores take part (measured on the same
            rows, folds and seed as the live protocol).
        new_best: Whether a live score beat every stored score.
        stored_gap: Largest |live - stored| score of a config evaluated both
            ways (``None``: none was); near 0 when the protocol matches.
        flaml_params: FLAML's hyperparameters on the task's evaluated rows (for
            the report; each CV fold asked FLAML again with its own rows).
        errors: Error text of each method whose evaluation failed.
        seconds: Wall time of the task's live evaluations.
        timeouts: Distinct configs whose evaluation ran past the time limit.
    """

    task_id: str
    name: str
    family: str
    fold: int
    task_type: str
    rows_used: int
    scores: dict[str, float]
    warmstart_scores: tuple[float, ...]
    config_scores: dict[str, tuple[float, ...]]
    regret: dict[str, dict[int, float]]
    best: float
    worst: float
    n_stored: int
    new_best: bool
    stored_gap: float | None
    flaml_params: dict[str, Any] | None
    errors: dict[str, str]
    seconds: float
    timeouts: int = 0


@dataclass(frozen=True)
class WinTieLoss:
    """How often warmstart's regret was lower, equal or higher than a baseline's."""

    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        """Tasks compared."""
        return self.wins + self.ties + self.losses

    @property
    def win_share(self) -> float:
        """Wins over the tasks where the two differ (NaN when they never do)."""
        decided = self.wins + self.losses
        return self.wins / decided if decided else float("nan")

    def __str__(self) -> str:
        return f"{self.wins}/{self.ties}/{self.losses}"


@dataclass
class LiveEvaluation:
    """Per-task live results and their summaries."""

    space_name: str
    settings: LiveSettings
    protocol: Protocol
    cv_seed: int
    protocol_note: str
    methods: tuple[str, ...]
    tasks: list[LiveTaskResult]
    n_records: int
    notes: list[str] = field(default_factory=list)
    set_rules: dict[int, str] = field(default_factory=dict)
    """How each outer fold's bundle chose its set rules (a sentence per fold)."""

    def mean_regret(
        self, method: str, k: int = 1, tasks: list[LiveTaskResult] | None = None
    ) -> float:
        """Mean normalised regret of a method's best of its first k (one-config methods: its one).

        Args:
            method: The method.
            k: How many of its configs.
            tasks: Average over these (default: every task).
        """
        chosen = self.tasks if tasks is None else tasks
        return float(np.mean([regret_at(t, method, k) for t in chosen]))

    def record(self, baseline: str, k: int = 1) -> WinTieLoss:
        """Wins, ties and losses of warmstart's best of k against a baseline's best of k."""
        diffs = [regret_at(t, "warmstart", k) - regret_at(t, baseline, k) for t in self.tasks]
        return WinTieLoss(
            wins=sum(d < -_TIE for d in diffs),
            ties=sum(abs(d) <= _TIE for d in diffs),
            losses=sum(d > _TIE for d in diffs),
        )

    def by_bucket(self) -> dict[str, list[LiveTaskResult]]:
        """The tasks of each size bucket that has any, in :data:`SIZE_BUCKETS` order."""
        out: dict[str, list[LiveTaskResult]] = {b: [] for b in SIZE_BUCKETS}
        for task in self.tasks:
            out[size_bucket(task.rows_used)].append(task)
        return {bucket: tasks for bucket, tasks in out.items() if tasks}

    def regret_ratio(self, method: str, baseline: str, k: int) -> float:
        """Mean regret of ``method``'s best of k over ``baseline``'s (inf if theirs is 0)."""
        theirs = self.mean_regret(baseline, k)
        ours = self.mean_regret(method, k)
        if theirs == 0:
            return 0.0 if ours == 0 else float("inf")
        return ours / theirs


def regret_at(task: LiveTaskResult, method: str, k: int) -> float:
    """A method's regret on a task with k configs (a one-config method's at k = 1)."""
    by_k = task.regret[method]
    return by_k[k] if k in by_k else by_k[max(x for x in by_k if x <= k)]
