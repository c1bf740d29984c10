"""Search spaces shaped like warmstart's learners, and configs of them.

Built here rather than imported from ``benchmarks``: the service does not
depend on it.
"""

from __future__ import annotations

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    ForbiddenInClause,
    GreaterThanCondition,
    InCondition,
    Integer,
    OrdinalHyperparameter,
)

from warmstart.metamodel.types import ConfigValue


def svm_space() -> ConfigurationSpace:
    """Kernel-conditional parameters, as in the SVM learner."""
    space = ConfigurationSpace(name="svm")
    kernel = Categorical("kernel", ["rbf", "poly", "sigmoid", "linear"], default="rbf")
    gamma_mode = Categorical("gamma_mode", ["scale", "value"], default="scale")
    gamma = Float("gamma", (1e-4, 10.0), log=True, default=0.1)
    degree = Integer("degree", (2, 5), default=3)
    coef0 = Float("coef0", (-1.0, 1.0), default=0.0)
    space.add(
        [
            Float("C", (1e-3, 1e4), log=True, default=1.0),
            kernel,
            gamma_mode,
            gamma,
            degree,
            coef0,
            Float("tol", (1e-5, 1e-1), log=True, default=1e-3),
            Categorical("shrinking", [True, False], default=True),
            InCondition(gamma_mode, kernel, ["rbf", "poly", "sigmoid"]),
            EqualsCondition(gamma, gamma_mode, "value"),
            EqualsCondition(degree, kernel, "poly"),
            InCondition(coef0, kernel, ["poly", "sigmoid"]),
        ]
    )
    return space


def mlp_space() -> ConfigurationSpace:
    """Numeric conditions, optimizer-conditional parameters, flag + log value, every type."""
    space = ConfigurationSpace(name="mlp")
    n_layers = Integer("n_layers", (1, 3), default=1)
    space.add(n_layers)
    for i in range(1, 4):
        units = Integer(f"units_{i}", (16, 512), log=True, default=100)
        space.add(units)
        if i > 1:
            space.add(GreaterThanCondition(units, n_layers, i - 1))
    optimizer = Categorical("optimizer", ["adam", "sgd", "rmsprop"], default="adam")
    momentum = Float("momentum", (0.0, 0.99), default=0.9)
    nesterov = Categorical("nesterov", [True, False], default=True)
    beta1 = Float("beta1", (0.5, 0.99), default=0.9)
    use_wd = Categorical("use_weight_decay", [False, True], default=False)
    weight_decay = Float("weight_decay", (1e-6, 1e-1), log=True, default=1e-4)
    space.add(
        [
            Float("learning_rate", (1e-5, 1e-1), log=True, default=1e-3),
            Integer("epochs", (5, 100), log=True, default=100),
            Categorical("batch_size", [32, 64, 128], default=64),
            Categorical("dropout", [0.0, 0.25, 0.5], default=0.0),
            OrdinalHyperparameter("width", ["narrow", "medium", "wide"], default_value="medium"),
            Constant("loss", "cross_entropy"),
            optimizer,
            momentum,
            nesterov,
            beta1,
            InCondition(momentum, optimizer, ["sgd", "rmsprop"]),
            EqualsCondition(nesterov, optimizer, "sgd"),
            EqualsCondition(beta1, optimizer, "adam"),
            use_wd,
            weight_decay,
            EqualsCondition(weight_decay, use_wd, True),
        ]
    )
    return space


def logistic_space() -> ConfigurationSpace:
    """Forbidden penalty/solver combinations, as in the logistic regression learner."""
    space = ConfigurationSpace(name="logistic_regression")
    penalty = Categorical("penalty", ["l2", "l1", "none"], default="l2")
    solver = Categorical("solver", ["lbfgs", "liblinear", "saga"], default="lbfgs")
    c = Float("C", (1e-4, 1e4), log=True, default=1.0)
    space.add(
        [
            penalty,
            solver,
            c,
            InCondition(c, penalty, ["l2", "l1"]),
            ForbiddenAndConjunction(
                ForbiddenEqualsClause(penalty, "l1"), ForbiddenInClause(solver, ["lbfgs"])
            ),
            ForbiddenAndConjunction(
                ForbiddenEqualsClause(penalty, "none"), ForbiddenEqualsClause(solver, "liblinear")
            ),
        ]
    )
    return space


SPACES = {"svm": svm_space, "mlp": mlp_space, "logistic": logistic_space}


# A config of the MLP space with one hidden layer and Adam: units_2, units_3,
# momentum, nesterov and weight_decay are inactive and absent.
MLP_ONE_LAYER: dict[str, ConfigValue] = {
    "n_layers": 1,
    "units_1": 64,
    "optimizer": "adam",
    "beta1": 0.85,
    "learning_rate": 0.003,
    "epochs": 20,
    "batch_size": 128,
    "dropout": 0.25,
    "width": "wide",
    "loss": "cross_entropy",
    "use_weight_decay": False,
}

# Three layers, SGD with Nesterov, weight decay on: the other branches.
MLP_THREE_LAYERS: dict[str, ConfigValue] = {
    "n_layers": 3,
    "units_1": 512,
    "units_2": 16,
    "units_3": 200,
    "optimizer": "sgd",
    "momentum": 0.5,
    "nesterov": False,
    "learning_rate": 1e-5,
    "epochs": 5,
    "batch_size": 32,
    "dropout": 0.0,
    "width": "narrow",
    "loss": "cross_entropy",
    "use_weight_decay": True,
    "weight_decay": 0.1,
}
