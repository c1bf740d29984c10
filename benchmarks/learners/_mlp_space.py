"""The PyTorch MLP learner: its search space, and the factory of its estimator.

torch is imported only when an estimator is built, so listing learners and
spaces stays cheap.

Structure: ``n_layers`` (1-4) hidden layers; ``units_i`` is active when
``n_layers >= i``; each layer is Linear -> [BatchNorm] -> activation ->
[Dropout]. Training: optimizer with its own parameters as conditionals
(sgd: momentum, nesterov; adam/adamw: beta1, beta2, eps; rmsprop: rho (torch's
``alpha``), momentum), learning rate, schedule (constant, step: step_size +
step_gamma, exponential: exp_gamma, cosine) applied per epoch after a linear
warm-up over ``warmup_fraction`` of the steps, batch size, epochs.
Regularisation: dropout, weight decay, L1 penalty and gradient-norm clipping
(each off by default: flag + log-scale value), label smoothing
(classification only; ignored for regression).

There is no library default for an MLP, so the defaults follow
scikit-learn's ``MLPClassifier`` where it has the parameter (one hidden layer
of 100 ReLU units, Adam with lr 1e-3, betas 0.9/0.999, eps 1e-8, batch 200)
and PyTorch's otherwise (no weight decay, no clipping, no smoothing), with 100
epochs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    GreaterThanCondition,
    InCondition,
    Integer,
)

from warmstart.benchmarks.learners._base import ALL_TASK_TYPES, Learner
from warmstart.benchmarks.learners._pipeline import make_pipeline
from warmstart.metamodel.types import ConfigValue, TaskType

__all__ = ["ACTIVATIONS", "INITS", "MAX_LAYERS", "MLP", "OPTIMIZERS", "SCHEDULES", "mlp_space"]

MAX_LAYERS = 4
ACTIVATIONS = ["relu", "leaky_relu", "gelu", "tanh", "elu", "selu"]
INITS = ["kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal", "orthogonal"]
OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop"]
SCHEDULES = ["constant", "step", "exponential", "cosine"]


def _optional_log(
    space: ConfigurationSpace, flag: str, name: str, bounds: tuple[float, float], default: float
) -> None:
    on = Categorical(flag, [False, True], default=False)
    value = Float(name, bounds, log=True, default=default)
    space.add([on, value, EqualsCondition(value, on, True)])


def mlp_space(name: str = "mlp") -> ConfigurationSpace:
    """Build the MLP search space (a new object with the same content on every call)."""
    space = ConfigurationSpace(name=name)
    n_layers = Integer("n_layers", (1, MAX_LAYERS), default=1)
    space.add(n_layers)
    for i in range(1, MAX_LAYERS + 1):
        units = Integer(f"units_{i}", (16, 512), log=True, default=100)
        space.add(units)
        if i > 1:
            space.add(GreaterThanCondition(units, n_layers, i - 1))
    space.add(
        [
            Categorical("activation", ACTIVATIONS, default="relu"),
            Categorical("init", INITS, default="kaiming_uniform"),
            Float("dropout", (0.0, 0.5), default=0.0),
            Categorical("batch_norm", [False, True], default=False),
            Float("learning_rate", (1e-5, 1e-1), log=True, default=1e-3),
            Integer("batch_size", (16, 512), log=True, default=200),
            Integer("epochs", (5, 100), log=True, default=100),
            Float("warmup_fraction", (0.0, 0.3), default=0.0),
            Float("label_smoothing", (0.0, 0.3), default=0.0),
        ]
    )
    optimizer = Categorical("optimizer", OPTIMIZERS, default="adam")
    momentum = Float("momentum", (0.0, 0.99), default=0.9)
    nesterov = Categorical("nesterov", [True, False], default=True)
    beta1 = Float("beta1", (0.5, 0.99), default=0.9)
    beta2 = Float("beta2", (0.9, 0.9999), default=0.999)
    eps = Float("eps", (1e-10, 1e-4), log=True, default=1e-8)
    rho = Float("rho", (0.8, 0.999), default=0.99)
    space.add(
        [
            optimizer,
            momentum,
            nesterov,
            beta1,
            beta2,
            eps,
            rho,
            InCondition(momentum, optimizer, ["sgd", "rmsprop"]),
            EqualsCondition(nesterov, optimizer, "sgd"),
            InCondition(beta1, optimizer, ["adam", "adamw"]),
            InCondition(beta2, optimizer, ["adam", "adamw"]),
            InCondition(eps, optimizer, ["adam", "adamw"]),
            EqualsCondition(rho, optimizer, "rmsprop"),
        ]
    )
    schedule = Categorical("lr_schedule", SCHEDULES, default="constant")
    step_size = Integer("step_size", (1, 50), log=True, default=10)
    step_gamma = Float("step_gamma", (0.1, 0.9), default=0.5)
    exp_gamma = Float("exp_gamma", (0.8, 0.999), default=0.95)
    space.add(
        [
            schedule,
            step_size,
            step_gamma,
            exp_gamma,
            EqualsCondition(step_size, schedule, "step"),
            EqualsCondition(step_gamma, schedule, "step"),
            EqualsCondition(exp_gamma, schedule, "exponential"),
        ]
    )
    _optional_log(space, "use_weight_decay", "weight_decay", (1e-6, 1e-1), default=1e-4)
    _optional_log(space, "use_l1", "l1_penalty", (1e-7, 1e-3), default=1e-5)
    _optional_log(space, "use_grad_clip", "grad_clip_norm", (0.1, 10.0), default=1.0)
    return space


class MLP(Learner):
    """A PyTorch MLP (see the module doc); ``label_smoothing`` is ignored for regression.

    The fitted model step (``pipeline.named_steps["model"]``) has ``diverged_``.
    """

    name: ClassVar[str] = "mlp"
    task_types: ClassVar[frozenset[TaskType]] = ALL_TASK_TYPES

    def search_space(self) -> ConfigurationSpace:
        """Build the MLP space."""
        return mlp_space(self.name)

    def _build(
        self, config: dict[str, ConfigValue], task_type: TaskType, seed: int, n_threads: int
    ) -> Any:
        from warmstart.benchmarks.learners._mlp import TorchMLPClassifier, TorchMLPRegressor

        model = TorchMLPRegressor if task_type is TaskType.REGRESSION else TorchMLPClassifier
        return make_pipeline("scaled", model(config, seed=seed, n_threads=n_threads), n_threads)
