"""Live mode's settings and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from warmstart.benchmarks.live._json import (
    float_from_json,
    float_to_json,
    value_from_json,
    value_to_json,
)
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
        top5: Hashes of warmstart's answer to a request for 5 configs (the first 5 of the
            largest request's where 5 is not asked), for how many distinct configs the
            held-out tasks' top-5 lists hold.
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
    top5: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Every field as strict JSON values; :meth:`from_dict` reads it back exactly.

        Floats keep their exact value (non-finite ones as ``"NaN"``, ``"Infinity"``,
        ``"-Infinity"``: see :mod:`warmstart.benchmarks.live._json`), tuples become
        lists and regret's k keys strings; dict orders are kept.
        """
        return {
            "task_id": self.task_id,
            "name": self.name,
            "family": self.family,
            "fold": self.fold,
            "task_type": self.task_type,
            "rows_used": self.rows_used,
            "scores": {m: float_to_json(s) for m, s in self.scores.items()},
            "warmstart_scores": [float_to_json(s) for s in self.warmstart_scores],
            "config_scores": {
                m: [float_to_json(s) for s in scores] for m, scores in self.config_scores.items()
            },
            "regret": {
                m: {str(k): float_to_json(r) for k, r in by_k.items()}
                for m, by_k in self.regret.items()
            },
            "best": float_to_json(self.best),
            "worst": float_to_json(self.worst),
            "n_stored": self.n_stored,
            "new_best": self.new_best,
            "stored_gap": None if self.stored_gap is None else float_to_json(self.stored_gap),
            "flaml_params": value_to_json(self.flaml_params),
            "errors": dict(self.errors),
            "seconds": float_to_json(self.seconds),
            "timeouts": self.timeouts,
            "top5": list(self.top5),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LiveTaskResult:
        """The result :meth:`to_dict` wrote (parsed from JSON).

        Raises:
            InvalidRequestError: A field is missing, unknown or of the wrong type,
                naming it.
        """
        if not isinstance(data, Mapping):
            raise InvalidRequestError(f"a live task result must be an object, got {data!r:.80}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRequestError(f"unknown fields in a live task result: {unknown}")
        missing = sorted(known - set(data) - {"timeouts", "top5"})
        if missing:
            raise InvalidRequestError(f"a live task result lacks fields {missing}")

        def floats(value: Any, what: str) -> list[float]:
            return [float_from_json(s, what) for s in _list(value, what)]

        flaml_params = value_from_json(data["flaml_params"])
        if flaml_params is not None and not isinstance(flaml_params, dict):
            raise InvalidRequestError(
                f"flaml_params must be an object or null, got {flaml_params!r}"
            )
        stored_gap = data["stored_gap"]
        errors = _object(data["errors"], "errors")
        return cls(
            task_id=_typed(data, "task_id", str),
            name=_typed(data, "name", str),
            family=_typed(data, "family", str),
            fold=_typed(data, "fold", int),
            task_type=_typed(data, "task_type", str),
            rows_used=_typed(data, "rows_used", int),
            scores={
                m: float_from_json(s, f"scores.{m}")
                for m, s in _object(data["scores"], "scores").items()
            },
            warmstart_scores=tuple(floats(data["warmstart_scores"], "warmstart_scores")),
            config_scores={
                m: tuple(floats(scores, f"config_scores.{m}"))
                for m, scores in _object(data["config_scores"], "config_scores").items()
            },
            regret={
                m: {
                    _int_key(k, f"regret.{m}"): float_from_json(r, f"regret.{m}.{k}")
                    for k, r in _object(by_k, f"regret.{m}").items()
                }
                for m, by_k in _object(data["regret"], "regret").items()
            },
            best=float_from_json(data["best"], "best"),
            worst=float_from_json(data["worst"], "worst"),
            n_stored=_typed(data, "n_stored", int),
            new_best=_typed(data, "new_best", bool),
            stored_gap=None if stored_gap is None else float_from_json(stored_gap, "stored_gap"),
            flaml_params=flaml_params,
            errors={m: _typed(errors, m, str, "errors.") for m in errors},
            seconds=float_from_json(data["seconds"], "seconds"),
            timeouts=_typed(data, "timeouts", int) if "timeouts" in data else 0,
            top5=tuple(_strings(data["top5"], "top5")) if "top5" in data else (),
        )


def _strings(value: Any, what: str) -> list[str]:
    """``value`` checked to be a list of strings."""
    items = _list(value, what)
    if not all(isinstance(item, str) for item in items):
        raise InvalidRequestError(f"{what} must be a list of strings, got {value!r:.80}")
    return items


def _typed(data: Mapping[str, Any], key: str, kind: type[Any], prefix: str = "") -> Any:
    """``data[key]``, checked to be of ``kind`` (a bool is no int here)."""
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidRequestError(
            f"{prefix}{key} must be of type {kind.__name__}, got {value!r:.80}"
        )
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    """``value``, checked to be a JSON object."""
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{what} must be an object, got {value!r:.80}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    """``value``, checked to be a JSON list."""
    if not isinstance(value, list):
        raise InvalidRequestError(f"{what} must be a list, got {value!r:.80}")
    return value


def _int_key(key: str, what: str) -> int:
    """An integer written as an object key (JSON keys are strings)."""
    try:
        return int(key)
    except ValueError:
        raise InvalidRequestError(f"{what} keys must be integers, got {key!r}") from None


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

    def distinct_top5(self) -> tuple[int, int]:
        """How many distinct configs warmstart's top-5 lists hold, and over how many tasks
        (those that kept their list)."""
        lists = [t.top5 for t in self.tasks if t.top5]
        return len({digest for top in lists for digest in top}), len(lists)

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
