"""Every suggestion is valid in its space: a property test over random spaces and tasks.

Each example draws a search space (floats with and without log scale, integers,
categoricals of strings, numbers and bools, conditional parameters and forbidden pairs), a few
training tasks with random scores, trains a tiny bundle and asks for k configs
for a random task. Local refinement (perturbing encoded configs and decoding them
back) is where an invalid config would come from, so every candidate kind is on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    InCondition,
    Integer,
)
from ConfigSpace.hyperparameters import Hyperparameter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warmstart.metamodel.bundle import TrainSettings, train_from_records
from warmstart.metamodel.spaces import (
    config_hash,
    make_search_space,
    sample_configs,
    validate_config,
)
from warmstart.metamodel.surrogate import SurrogateParams
from warmstart.metamodel.types import EvaluationRecord, RecordStatus, TaskFeatures

TINY = TrainSettings(surrogate=SurrogateParams(n_models=2, n_estimators=15, min_child_samples=2))
NAMES = ("a", "b", "c")


@st.composite
def spaces(draw: st.DrawFn) -> ConfigurationSpace:
    space = ConfigurationSpace()
    parents: list[tuple[str, list[str]]] = []
    children: list[Hyperparameter[Any, Any]] = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(
            st.sampled_from(["float", "logfloat", "int", "logint", "cat", "numcat", "bool"])
        )
        name = f"p{i}"
        hp: Hyperparameter[Any, Any]
        if kind in ("float", "logfloat"):
            low = draw(st.floats(1e-4, 10.0))
            high = low * draw(st.floats(1.5, 1e4))
            hp = Float(name, (low, high), log=kind == "logfloat")
        elif kind in ("int", "logint"):
            low = draw(st.integers(1, 50))
            hp = Integer(name, (low, low + draw(st.integers(1, 500))), log=kind == "logint")
        elif kind == "cat":
            n = draw(st.integers(2, 5))
            hp = Categorical(name, [f"v{j}" for j in range(n)])
            parents.append((name, [f"v{j}" for j in range(n)]))
        elif kind == "numcat":
            hp = Categorical(name, [0.5, 1.0, 2.0])
        else:
            hp = Categorical(name, [True, False])
        space.add(hp)
        children.append(hp)
    # A later parameter may depend on an earlier string categorical (one parent each).
    conditioned: set[str] = set()
    for parent_name, choices in parents:
        later = [c for c in children if c.name > parent_name and c.name not in conditioned]
        attach: bool = draw(st.booleans())
        if later and attach:
            child, parent = later[0], space[parent_name]
            conditioned.add(child.name)
            if draw(st.booleans()):
                space.add(EqualsCondition(child, parent, choices[0]))
            else:
                space.add(InCondition(child, parent, choices[:2]))
    # Sometimes a forbidden pair of two unconditioned string categoricals' values.
    free = [(n, cs) for n, cs in parents if n not in conditioned]
    if len(free) >= 2 and draw(st.booleans()):
        (first, first_choices), (second, second_choices) = free[:2]
        space.add(
            ForbiddenAndConjunction(
                ForbiddenEqualsClause(space[first], first_choices[0]),
                ForbiddenEqualsClause(space[second], second_choices[1]),
            )
        )
    return space


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cs=spaces(),
    seed=st.integers(0, 1000),
    k=st.integers(1, 12),
    task=st.lists(st.floats(-5, 5), min_size=3, max_size=3),
)
def test_suggestions_are_valid_in_any_space(
    cs: ConfigurationSpace, seed: int, k: int, task: list[float]
) -> None:
    space = make_search_space("random_space", cs)
    rng = np.random.default_rng(seed)
    configs = sample_configs(cs, 12, method="random", seed=seed)
    features, records = {}, []
    for t in range(6):
        task_id = f"t{t}"
        features[task_id] = TaskFeatures(task_id, "test-1", NAMES, tuple(rng.normal(size=3)))
        for config in configs:
            records.append(
                EvaluationRecord(
                    task_id=task_id,
                    space_id=space.space_id,
                    config=config,
                    config_hash=config_hash(config),
                    score=float(rng.random()),
                    status=RecordStatus.OK,
                    fit_seconds=float(rng.random()),
                )
            )
    bundle = train_from_records(space, records, features, {t: t for t in features}, "test-1", TINY)
    result = bundle.recommender().suggest(dict(zip(NAMES, task, strict=True)), k=k)
    assert 1 <= len(result.suggestions) <= k
    hashes = set()
    for suggestion in result.suggestions:
        assert validate_config(cs, suggestion.config) == dict(suggestion.config)
        hashes.add(config_hash(suggestion.config))
    assert len(hashes) == len(result.suggestions)
