"""The arms of the sequential evaluation: one optimizer each, run on a loss to minimise.

Every arm sees the same interface: an objective that maps a config of the
space to a loss (lower is better; NaN when the evaluation failed) and a trial
budget. Each returns the losses of its trials in order, so the caller turns
them into best-so-far regret the same way for every arm.

- ``warmstart``: the ask/tell loop. Each trial asks the fold's recommender for
  one config, giving every previous trial as an observation (failed ones as
  exclusions, since they have no score); a config is never asked twice.
- ``tpe_cold``: Optuna's TPE from scratch (default settings).
- ``tpe_seeded``: Optuna's TPE with warmstart's zero-shot top k enqueued first.
- ``flaml_cfo``: FLAML's CFO (:mod:`warmstart.benchmarks.sequential._cfo`).
- ``random``: distinct configs drawn uniformly (on each parameter's scale).

Optuna and FLAML are optional dependencies (the ``optimizers`` and
``evaluation`` extras); they are imported when an arm runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from ConfigSpace import ConfigurationSpace

from warmstart.metamodel.errors import FailedPreconditionError
from warmstart.metamodel.optuna_space import suggest_from_space
from warmstart.metamodel.recommend import Recommendation
from warmstart.metamodel.spaces import sample_configs
from warmstart.metamodel.types import ConfigValue, Observation

__all__ = [
    "ARMS",
    "Loss",
    "Suggester",
    "random_search",
    "tpe_search",
    "warmstart_loop",
]

ARMS = ("warmstart", "tpe_cold", "tpe_seeded", "flaml_cfo", "random")
"""Every arm, in the order reports list them."""

Loss = Callable[[Mapping[str, ConfigValue]], float]
"""A config's loss on the task (lower is better; NaN: the evaluation failed)."""


class Suggester(Protocol):
    """What the ask/tell loop needs of a recommender (:class:`Recommender` has it)."""

    def suggest(
        self,
        features: Mapping[str, float],
        k: int,
        *,
        max_fit_seconds: float | None = None,
        exclude: Iterable[Mapping[str, ConfigValue]] = (),
        train_rows: int | None = None,
        observations: Iterable[Observation] = (),
    ) -> Recommendation:
        """``k`` configs for the task, taking the observations into account."""
        ...


def warmstart_loop(
    recommender: Suggester,
    features: Mapping[str, float],
    loss: Loss,
    n_trials: int,
    *,
    train_rows: int | None = None,
    fallback: Callable[[int], Mapping[str, ConfigValue]] | None = None,
) -> tuple[list[dict[str, ConfigValue]], list[float]]:
    """Run the ask/tell loop: each trial asks for k = 1 given every trial before it.

    Args:
        recommender: The fold's recommender.
        features: The task's meta-features.
        loss: The objective.
        n_trials: Trials to run.
        train_rows: Rows the configs are trained on, as a user would state them.
        fallback: Gives the config of trial ``i`` (0-based) when the recommender
            has none left (every candidate tried); without it that raises.

    Returns:
        The configs tried and their losses, in order.

    Raises:
        FailedPreconditionError: The recommender had no config left and no fallback.
    """
    configs: list[dict[str, ConfigValue]] = []
    losses: list[float] = []
    observations: list[Observation] = []
    failed: list[dict[str, ConfigValue]] = []
    for trial in range(n_trials):
        try:
            answer = recommender.suggest(
                features, 1, exclude=failed, train_rows=train_rows, observations=observations
            )
            config = dict(answer.suggestions[0].config)
        except FailedPreconditionError:
            if fallback is None:
                raise
            config = dict(fallback(trial))
        value = float(loss(config))
        configs.append(config)
        losses.append(value)
        if math.isnan(value):
            failed.append(config)
        else:
            # Observations are scores, higher is better: the loss negated.
            observations.append(Observation(config, -value))
    return configs, losses


def tpe_search(
    space: ConfigurationSpace,
    loss: Loss,
    n_trials: int,
    seed: int,
    *,
    enqueue: Sequence[Mapping[str, ConfigValue]] = (),
    worst: float = 1.0,
) -> tuple[list[dict[str, ConfigValue]], list[float]]:
    """Optuna's TPE (default settings) with ask/tell, the ``enqueue`` configs first.

    A config the space forbids (Optuna cannot express forbidden clauses) gets
    the loss ``worst`` and counts as a trial; a failed evaluation is told to
    Optuna as failed and counts as a trial.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    for config in enqueue:
        study.enqueue_trial(dict(config), skip_if_exists=True)
    configs: list[dict[str, ConfigValue]] = []
    losses: list[float] = []
    for _ in range(n_trials):
        trial = study.ask()
        try:
            config = suggest_from_space(trial, space)
        except optuna.TrialPruned:
            configs.append(dict(trial.params))
            losses.append(worst)
            study.tell(trial, worst)
            continue
        value = float(loss(config))
        configs.append(config)
        losses.append(value)
        if math.isnan(value):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, value)
    return configs, losses


def random_search(
    space: ConfigurationSpace, loss: Loss, n_trials: int, seed: int
) -> tuple[list[dict[str, ConfigValue]], list[float]]:
    """Distinct configs drawn uniformly from the space (the default not put first)."""
    configs = sample_configs(space, n_trials, method="random", seed=seed, include_default=False)
    return configs, [float(loss(c)) for c in configs]
