"""Live mode's settings and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.runner import Protocol
from metamodel.bundle import TrainSettings
from metamodel.errors import InvalidRequestError

__all__ = [
    "BASELINES",
    "LIVE_METHODS",
    "LiveEvaluation",
    "LiveSettings",
    "LiveTaskResult",
    "WinTieLoss",
]

LIVE_METHODS = ("warmstart", "default", "single_best", "flaml_zeroshot")
"""Every method live mode knows; ``flaml_zeroshot`` only for LightGBM with FLAML installed."""

BASELINES = LIVE_METHODS[1:]

_TIE = 1e-12


@dataclass(frozen=True)
class LiveSettings:
    """How the live evaluation runs.

    Attributes:
        ks: Report warmstart's best-of-k regret at these k; ``max(ks)``
            suggestions are trained per task. Baselines are one config each.
        n_folds: Leave-family-out folds (as pool mode).
        seed: Seed of the folds, of the task choice and of the training (as pool mode).
        max_tasks: Evaluate at most this many held-out tasks, spread over families.
        cv_folds: CV folds of a live evaluation; ``None``: as the stored records
            (3 when they do not say).
        row_cap: Row cap; ``None``: as the stored records (2000 when they do not
            say); 0: no cap.
        cv_seed: Seed of the CV splits and of the models; ``None``: the records'.
        n_threads: Threads per model fit.
        flaml: Include FLAML's zero-shot baseline (LightGBM only).
        train: How each fold's bundle is trained.
    """

    ks: tuple[int, ...] = (1, 3, 5)
    n_folds: int = 5
    seed: int = 0
    max_tasks: int | None = None
    cv_folds: int | None = None
    row_cap: int | None = None
    cv_seed: int | None = None
    n_threads: int = 1
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
        if self.cv_folds is not None and self.cv_folds < 2:
            raise InvalidRequestError(f"cv_folds must be >= 2, got {self.cv_folds}")
        if self.row_cap is not None and self.row_cap < 0:
            raise InvalidRequestError(f"row_cap must be >= 0 (0: no cap), got {self.row_cap}")
        if self.n_threads < 1:
            raise InvalidRequestError(f"n_threads must be >= 1, got {self.n_threads}")


@dataclass(frozen=True)
class LiveTaskResult:
    """What happened on one held-out task.

    Attributes:
        scores: Live score of each method's first config (NaN: it failed).
        warmstart_scores: Live scores of warmstart's suggestions, in order.
        regret: Normalised regret per method and k (baselines at k = 1 only).
        best: Best score over the stored records and the live evaluations.
        worst: Worst score over the same.
        n_stored: Configs stored for the task before the comparison.
        new_best: Whether a live score beat every stored score.
        stored_gap: Largest |live - stored| score of a config evaluated both
            ways (``None``: none was); near 0 when the protocol matches.
        flaml_params: FLAML's hyperparameters on the task's evaluated rows (for
            the report; each CV fold asked FLAML again with its own rows).
        errors: Error text of each method whose evaluation failed.
        seconds: Wall time of the task's live evaluations.
    """

    task_id: str
    name: str
    family: str
    fold: int
    task_type: str
    scores: dict[str, float]
    warmstart_scores: tuple[float, ...]
    regret: dict[str, dict[int, float]]
    best: float
    worst: float
    n_stored: int
    new_best: bool
    stored_gap: float | None
    flaml_params: dict[str, Any] | None
    errors: dict[str, str]
    seconds: float


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

    def mean_regret(self, method: str, k: int = 1) -> float:
        """Mean normalised regret of a method (warmstart: best of its first k)."""
        return float(np.mean([t.regret[method][k] for t in self.tasks]))

    def record(self, baseline: str, k: int = 1) -> WinTieLoss:
        """Wins, ties and losses of warmstart's best of k against a baseline's one config."""
        diffs = [t.regret["warmstart"][k] - t.regret[baseline][1] for t in self.tasks]
        return WinTieLoss(
            wins=sum(d < -_TIE for d in diffs),
            ties=sum(abs(d) <= _TIE for d in diffs),
            losses=sum(d > _TIE for d in diffs),
        )
