"""Every arm on one held-out task: the losses of each trial, per arm and repeat."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from ConfigSpace import ConfigurationSpace

from warmstart.benchmarks.sequential._arms import (
    Loss,
    Suggester,
    random_search,
    tpe_search,
    warmstart_loop,
)
from warmstart.benchmarks.sequential._cfo import cfo_search
from warmstart.benchmarks.sequential._types import SequentialSettings, TaskRun
from warmstart.metamodel.evaluation import EvaluationData
from warmstart.metamodel.spaces import sample_configs
from warmstart.metamodel.types import ConfigValue

__all__ = ["ArmLosses", "TaskInputs", "fallback_notes", "run_arms"]


@dataclass(frozen=True)
class TaskInputs:
    """What the arms need of one held-out task.

    Attributes:
        space: The search space.
        recommender: The fold's recommender (trained without the task's family).
        features: The task's meta-features.
        loss: The objective (lower is better; NaN: failed).
        position: The task's position in the run (part of the arms' seeds).
        cfo_start: The config CFO starts from.
        train_rows: Rows the configs are trained on, stated to the recommender
            (``None``: not stated, as the seeding mode asks).
        worst: The loss given to a forbidden config, and told to TPE and CFO for a failed one.
    """

    space: ConfigurationSpace
    recommender: Suggester
    features: Mapping[str, float]
    loss: Loss
    position: int
    cfo_start: Mapping[str, ConfigValue]
    train_rows: int | None = None
    worst: float = 1.0


@dataclass
class ArmLosses:
    """Each arm's losses per repeat (``losses[arm][repeat][trial]``) and its fallbacks."""

    losses: dict[str, list[list[float]]] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)

    def task_run(
        self,
        data: EvaluationData,
        task_id: str,
        fold: int,
        start: Mapping[str, ConfigValue],
        curve: Callable[[Sequence[float]], np.ndarray],
    ) -> TaskRun:
        """The task's run: ``curve`` of each repeat's losses, stacked per arm."""
        return TaskRun(
            task_id=task_id,
            name=data.names[task_id],
            family=data.families[task_id],
            fold=fold,
            curves={
                arm: np.vstack([curve(losses) for losses in per_repeat])
                for arm, per_repeat in self.losses.items()
            },
            cfo_start=dict(start),
            fallbacks=self.fallbacks,
        )


def fallback_notes(runs: Sequence[TaskRun], arms: Iterable[str]) -> list[str]:
    """A note per arm that took random configs, with how many trials it did so."""
    notes = []
    for arm in arms:
        total = sum(r.fallbacks.get(arm, 0) for r in runs)
        if total:
            notes.append(f"{arm}: {total} trials took a random config (the arm proposed none)")
    return notes


def run_arms(task: TaskInputs, settings: SequentialSettings) -> ArmLosses:
    """Run every arm of ``settings`` on the task, ``settings.repeats`` times where seeded.

    The ask/tell loop has no randomness: it runs once and stands for every
    repeat. TPE (cold and seeded), CFO and random search share one seed per
    (task, repeat).
    """
    n, out = settings.n_trials, ArmLosses()
    arms = settings.arms
    cs = task.space
    if "warmstart" in arms:
        fell_back = 0

        def fallback(trial: int) -> dict[str, ConfigValue]:
            nonlocal fell_back
            fell_back += 1
            seed = settings.arm_seed(task.position, 0) * 7919 + trial
            return sample_configs(cs, 1, method="random", seed=seed, include_default=False)[0]

        _, losses = warmstart_loop(
            task.recommender,
            task.features,
            task.loss,
            n,
            train_rows=task.train_rows,
            fallback=fallback,
        )
        out.losses["warmstart"] = [losses] * settings.repeats
        out.fallbacks["warmstart"] = fell_back
    seeds: list[dict[str, ConfigValue]] = []
    if "tpe_seeded" in arms:
        advice = task.recommender.suggest(
            task.features, settings.k_seed, train_rows=task.train_rows
        )
        seeds = [dict(s.config) for s in advice.suggestions]
    for arm in arms:
        if arm != "warmstart":
            out.losses[arm] = []
    for repeat in range(settings.repeats):
        seed = settings.arm_seed(task.position, repeat)
        if "tpe_cold" in arms:
            out.losses["tpe_cold"].append(tpe_search(cs, task.loss, n, seed, worst=task.worst)[1])
        if "tpe_seeded" in arms:
            out.losses["tpe_seeded"].append(
                tpe_search(cs, task.loss, n, seed, enqueue=seeds, worst=task.worst)[1]
            )
        if "flaml_cfo" in arms:
            _, losses, fell = cfo_search(cs, task.loss, n, seed, task.cfo_start, worst=task.worst)
            out.losses["flaml_cfo"].append(losses)
            out.fallbacks["flaml_cfo"] = out.fallbacks.get("flaml_cfo", 0) + fell
        if "random" in arms:
            out.losses["random"].append(random_search(cs, task.loss, n, seed)[1])
    return out
