"""The sequential evaluation's settings and results."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from warmstart.benchmarks.sequential._arms import ARMS
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.recommend import RecommenderSettings

__all__ = [
    "SequentialResult",
    "SequentialSettings",
    "TaskRun",
    "changed_settings",
    "check_fold_split",
    "fold_digests",
    "load_fold_split",
    "load_recommender_by_fold",
]


@dataclass(frozen=True)
class SequentialSettings:
    """How the sequential evaluation runs.

    Attributes:
        n_trials: Trials per arm and run.
        k_seed: Zero-shot suggestions the seeded TPE evaluates first.
        repeats: Seeds per task (TPE, CFO and random search use them; the
            ask/tell loop has no randomness and runs once per task, its curve
            standing for every repeat).
        max_tasks: At most this many held-out tasks, spread over families (as
            the seeding and live modes choose them).
        n_folds: Leave-family-out folds.
        seed: Seed of the folds, the task choice, the training and the arms' seeds.
        arms: The arms to run (all of :data:`ARMS` by default).
        train: How each fold's bundle is trained.
        recommender_by_fold: The recommender settings of each fold's bundle (a fold
            not named gets the defaults): settings chosen per outer fold on inner
            folds of its training tasks (``benchmarks.studies.observed_loop``), so
            the reported tasks choose nothing.
        recommender_split: The split into folds those settings were chosen on, as
            :func:`fold_digests` of it (empty: not known, not checked); a run on
            another split is refused (:meth:`check_split`), since a fold's settings
            would then have been chosen partly on tasks it holds out.
    """

    n_trials: int = 50
    k_seed: int = 10
    repeats: int = 3
    max_tasks: int | None = None
    n_folds: int = 5
    seed: int = 0
    arms: tuple[str, ...] = ARMS
    train: TrainSettings = field(default_factory=TrainSettings)
    recommender_by_fold: Mapping[int, RecommenderSettings] = field(default_factory=dict)
    recommender_split: Mapping[int, str] = field(default_factory=dict)

    def check_split(self, fold_of: Mapping[str, int]) -> None:
        """Refuse per-fold settings that were chosen on another split of the tasks
        (:func:`check_fold_split`)."""
        check_fold_split(self.recommender_split, self.recommender_by_fold, fold_of)

    def recommender_settings(self, fold: int) -> RecommenderSettings | None:
        """The settings of fold ``fold``'s recommender (None: the defaults)."""
        return self.recommender_by_fold.get(fold)

    def check(self) -> None:
        """Refuse settings that cannot run.

        Raises:
            InvalidRequestError: Naming the setting, its value and what is allowed.
        """
        if not 1 <= self.n_trials <= 1000:
            raise InvalidRequestError(f"n_trials must be in [1, 1000], got {self.n_trials}")
        if not 1 <= self.k_seed <= self.n_trials:
            raise InvalidRequestError(
                f"k_seed must be in [1, n_trials ({self.n_trials})], got {self.k_seed}"
            )
        if not 1 <= self.repeats <= 100:
            raise InvalidRequestError(f"repeats must be in [1, 100], got {self.repeats}")
        if self.max_tasks is not None and self.max_tasks < 1:
            raise InvalidRequestError(f"max_tasks must be >= 1, got {self.max_tasks}")
        if self.n_folds < 2:
            raise InvalidRequestError(f"n_folds must be >= 2, got {self.n_folds}")
        outside = sorted(f for f in self.recommender_by_fold if not 0 <= f < self.n_folds)
        if outside:
            raise InvalidRequestError(
                f"recommender settings are given for folds {outside}, but the folds are "
                f"0 to {self.n_folds - 1}"
            )
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown or not self.arms or len(set(self.arms)) != len(self.arms):
            raise InvalidRequestError(
                f"arms must be distinct names among {', '.join(ARMS)}, got {self.arms!r}"
            )

    def arm_seed(self, task_position: int, repeat: int) -> int:
        """The seed every seeded arm uses for one task and repeat (tasks differ, arms do not)."""
        return self.seed * 1_000_003 + task_position * 101 + repeat


@dataclass(frozen=True)
class TaskRun:
    """One held-out task and the arms' best-so-far regret on it.

    Attributes:
        task_id: The task's id.
        name: Its name.
        family: Its family.
        fold: The fold it was held out in.
        curves: ``{arm: (repeats, n_trials)}`` best-so-far normalised regret.
        cfo_start: The config CFO started from (FLAML's zero-shot, clipped, or the default).
        fallbacks: Trials per arm that took a random config because the arm had none.
    """

    task_id: str
    name: str
    family: str
    fold: int
    curves: dict[str, np.ndarray]
    cfo_start: dict[str, object] | None = None
    fallbacks: dict[str, int] = field(default_factory=dict)

    def mean_curve(self, arm: str) -> np.ndarray:
        """The arm's best-so-far regret on this task, averaged over repeats."""
        return np.asarray(self.curves[arm].mean(axis=0), dtype=float)


@dataclass
class SequentialResult:
    """Per-task regret curves of every arm, and their summaries over tasks.

    Attributes:
        space_name: The space evaluated.
        settings: How it ran.
        mode: ``"surrogate"`` or ``"live"``.
        tasks: One run per held-out task.
        notes: What was left out or fell back, and why.
        protocol: Live mode: the evaluation protocol in words.
    """

    space_name: str
    settings: SequentialSettings
    mode: str
    tasks: list[TaskRun]
    notes: list[str] = field(default_factory=list)
    protocol: str = ""

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms that ran, in report order."""
        return tuple(a for a in ARMS if a in self.settings.arms)

    def per_task(self, arm: str) -> np.ndarray:
        """``(tasks, n_trials)``: each task's best-so-far regret, averaged over repeats."""
        return np.vstack([t.mean_curve(arm) for t in self.tasks])

    def mean(self, arm: str) -> np.ndarray:
        """Mean over tasks of the best-so-far regret after each trial (index 0: trial 1)."""
        return np.asarray(self.per_task(arm).mean(axis=0), dtype=float)

    def stderr(self, arm: str) -> np.ndarray:
        """Standard error over tasks of that mean (0 with a single task)."""
        values = self.per_task(arm)
        if len(values) < 2:
            return np.zeros(values.shape[1])
        return np.asarray(values.std(axis=0, ddof=1) / np.sqrt(len(values)), dtype=float)

    def at(self, arm: str, trial: int) -> float:
        """Mean best-so-far regret after ``trial`` trials (1-based)."""
        return float(self.mean(arm)[trial - 1])

    def share_at_most(self, arm: str, trial: int, other: str, other_trial: int) -> float:
        """Share of tasks where ``arm`` at ``trial`` is at or below ``other`` at ``other_trial``."""
        mine = self.per_task(arm)[:, trial - 1]
        theirs = self.per_task(other)[:, other_trial - 1]
        return float(np.mean(mine <= theirs + 1e-12))

    def targets(self) -> dict[str, dict[str, float | bool]]:
        """The issue's targets, where the run has the arms and trials to judge them.

        ``loop@10 <= tpe_cold@50`` and ``loop@20 <= tpe_seeded@50``, each with both
        means, whether it is met, and the share of tasks where it holds.
        """
        out: dict[str, dict[str, float | bool]] = {}
        n = self.settings.n_trials
        for trial, other in ((10, "tpe_cold"), (20, "tpe_seeded")):
            if n < 50 or "warmstart" not in self.arms or other not in self.arms:
                continue
            loop, theirs = self.at("warmstart", trial), self.at(other, 50)
            out[f"warmstart@{trial} <= {other}@50"] = {
                "warmstart": loop,
                other: theirs,
                "met": bool(loop <= theirs),
                "share_of_tasks": self.share_at_most("warmstart", trial, other, 50),
            }
        return out


def changed_settings(settings: RecommenderSettings) -> dict[str, object]:
    """The fields of ``settings`` that differ from the defaults: what
    :func:`load_recommender_by_fold` reads back for one fold."""
    defaults = RecommenderSettings()
    return {
        f.name: getattr(settings, f.name)
        for f in fields(settings)
        if getattr(settings, f.name) != getattr(defaults, f.name)
    }


def fold_digests(fold_of: Mapping[str, int]) -> dict[int, str]:
    """Each fold's digest of the task ids it holds: what per-fold settings record of the
    split they were chosen on (``split`` in the studies' output)."""
    held: dict[int, list[str]] = {}
    for task_id, fold in fold_of.items():
        held.setdefault(fold, []).append(task_id)
    return {
        fold: hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
        for fold, ids in sorted(held.items())
    }


def check_fold_split(
    recorded: Mapping[int, str], folds: Iterable[int], fold_of: Mapping[str, int]
) -> None:
    """Refuse per-fold settings chosen on another split of the tasks into folds.

    Args:
        recorded: The split the settings were chosen on (:func:`fold_digests`; empty:
            not known, nothing is checked).
        folds: The folds that have settings.
        fold_of: Each task's fold now.

    Raises:
        InvalidRequestError: Naming the folds whose tasks differ from those the settings
            were chosen for.
    """
    if not recorded:
        return
    now = fold_digests(fold_of)
    moved = sorted(f for f in folds if recorded.get(f) != now.get(f))
    if moved:
        raise InvalidRequestError(
            f"the recommender settings of folds {moved} were chosen on another split of the "
            "tasks into folds (the records or the fold seed changed since), so they may have "
            "been chosen on tasks these folds now hold out; choose them again on the current "
            "records (benchmarks.studies.observed_loop, loop_search)"
        )


def load_fold_split(path: Path) -> dict[int, str]:
    """The split a settings file's per-fold settings were chosen on (its ``split``: fold to
    :func:`fold_digests` digest), or an empty mapping where the file records none (a
    hand-written file).

    Raises:
        InvalidRequestError: The file cannot be read, or its ``split`` is not an object
            of fold numbers to digests.
    """
    data = _read_settings_file(path)
    split = data.get("split") if isinstance(data, dict) else None
    if split is None:
        return {}
    if not isinstance(split, dict) or not all(
        str(k).isdigit() and isinstance(v, str) for k, v in split.items()
    ):
        raise InvalidRequestError(
            f'{path}: `split` must map folds to digests of their tasks, e.g. {{"0": "3f2a..."}}'
        )
    return {int(k): v for k, v in split.items()}


def load_recommender_by_fold(path: Path) -> dict[int, RecommenderSettings]:
    """Read per-fold recommender settings from a JSON file.

    The file maps each fold (``"0"``, ``"1"``, ...) to the fields of
    :class:`RecommenderSettings` that differ from the defaults; the observed-loop
    study's ``--out`` file holds such a mapping under ``settings_by_fold``, and is
    read as well.

    Raises:
        InvalidRequestError: Naming the file and what is wrong in it: unreadable, not
            JSON, a fold that is not an integer >= 0, an unknown field (the allowed
            ones are listed) or a value out of range.
    """
    data = _read_settings_file(path)
    if isinstance(data, dict) and "settings_by_fold" in data:
        data = data["settings_by_fold"]
    if not isinstance(data, dict):
        raise InvalidRequestError(
            f"{path}: want an object mapping folds to settings, e.g. "
            '{"0": {"observed_from": 10}}'
        )
    allowed = [f.name for f in fields(RecommenderSettings)]
    found: dict[int, RecommenderSettings] = {}
    for key, values in data.items():
        if not str(key).isdigit():
            raise InvalidRequestError(f"{path}: fold {str(key)[:40]!r} is not an integer >= 0")
        if not isinstance(values, dict):
            raise InvalidRequestError(f"{path}: fold {key}: want an object of settings")
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise InvalidRequestError(
                f"{path}: fold {key}: unknown settings {', '.join(u[:40] for u in unknown)}; "
                f"the settings are {', '.join(allowed)}"
            )
        try:
            found[int(key)] = RecommenderSettings(**values)
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"{path}: fold {key}: {exc}") from None
    return found


def _read_settings_file(path: Path) -> object:
    """A per-fold settings file's JSON.

    Raises:
        InvalidRequestError: Naming the file, when it cannot be read or is not JSON.
    """
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestError(f"cannot read recommender settings from {path}: {exc}") from None
