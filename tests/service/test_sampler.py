"""WarmstartSampler: an Optuna study whose trials' configs come from warmstart, in process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
import pytest
from sklearn.model_selection import train_test_split

from tests.factories import require_pmlb
from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.tasks import TaskData, load_suite
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.features import compute_meta_features
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.spaces import validate_config
from warmstart.metamodel.types import ConfigValue, Observation
from warmstart.service.local import local_recommender
from warmstart.service.seeding import WarmstartSampler, suggest_from_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class SpyRecommender:
    """A recommender that records what the sampler asks (duck-typed like Recommender)."""

    inner: Recommender
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def space(self) -> Any:
        return self.inner.space

    def suggest_many(self, queries: Sequence[Any]) -> Any:
        return self.inner.suggest_many(queries)

    def suggest(self, features: Mapping[str, float], k: int, **kwargs: Any) -> Any:
        self.calls.append({"k": k, **kwargs})
        return self.inner.suggest(features, k, **kwargs)


@pytest.fixture(scope="module")
def breast_cancer() -> TaskData:
    return load_suite(f"pmlb:{require_pmlb()}").load("breast_cancer")  # 286 rows, 9 features


@pytest.fixture(scope="module")
def features(breast_cancer: TaskData) -> dict[str, float]:
    return compute_meta_features(breast_cancer.X, breast_cancer.y, breast_cancer.task.task_type)


@pytest.fixture
def spy() -> SpyRecommender:
    return SpyRecommender(local_recommender("lightgbm"))


def _key(config: Mapping[str, ConfigValue]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


def test_study_of_real_lightgbm_fits_starts_zero_shot_and_never_repeats(
    breast_cancer: TaskData, features: dict[str, float], spy: SpyRecommender
) -> None:
    data = breast_cancer
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.33, random_state=0, stratify=data.y
    )
    learner = get_learner("lightgbm")
    sampler = WarmstartSampler(spy, features=features, n_startup_configs=5, seed=0)

    def objective(trial: optuna.Trial) -> float:
        config = suggest_from_space(trial, sampler.space)
        model = learner.make_estimator(config, data.task.task_type, seed=0)
        return float(model.fit(X_train, y_train).score(X_test, y_test))

    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=20)

    trials = study.trials
    assert len(trials) == 20
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    zero_shot = spy.inner.suggest(features, 5).suggestions
    assert [t.params for t in trials[:5]] == [dict(s.config) for s in zero_shot]
    assert len({_key(t.params) for t in trials}) == 20, "a config was tried twice"
    for t in trials:
        assert validate_config(sampler.space, t.params) == t.params
    # One zero-shot request of 5, then one request per trial with every finished trial.
    assert [c["k"] for c in spy.calls] == [5] + [1] * 15
    assert [len(c["observations"]) for c in spy.calls] == [0, *range(5, 20)]
    last = spy.calls[-1]
    assert [o.score for o in last["observations"]] == [t.value for t in trials[:19]]
    assert {_key(c) for c in last["exclude"]} == {_key(t.params) for t in trials[:19]}


def test_minimising_study_reports_negated_values(
    features: dict[str, float], spy: SpyRecommender
) -> None:
    sampler = WarmstartSampler(spy, features=features, n_startup_configs=1)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(
        lambda t: float(suggest_from_space(t, sampler.space)["n_estimators"]), n_trials=3
    )
    observed: list[Observation] = spy.calls[-1]["observations"]
    assert [o.score for o in observed] == [-t.value for t in study.trials[:2]]  # type: ignore[operator]


def test_parameters_outside_the_space_and_late_trials_go_to_the_fallback(
    features: dict[str, float], spy: SpyRecommender
) -> None:
    fallback = optuna.samplers.RandomSampler(seed=1)
    sampler = WarmstartSampler(
        spy, features=features, n_startup_configs=2, n_warmstart_trials=3, fallback=fallback
    )
    assert sampler.fallback is fallback

    def objective(trial: optuna.Trial) -> float:
        config = suggest_from_space(trial, sampler.space)
        extra = trial.suggest_float("class_weight_ratio", 1.0, 5.0)
        return float(config["learning_rate"]) * extra

    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=6)
    asked = [dict(s.config) for s in spy.inner.suggest(features, 2).suggestions]
    trials = study.trials
    assert [
        {k: v for k, v in t.params.items() if k != "class_weight_ratio"} for t in trials[:2]
    ] == asked
    assert len({t.params["class_weight_ratio"] for t in trials}) == 6
    assert len(spy.calls) == 2  # trials 0-1 from the first answer, 2 asked alone, 3-5 fallback
    for t in trials[3:]:
        validate_config(sampler.space, {k: v for k, v in t.params.items() if k in sampler.space})


def test_enqueued_trials_keep_their_values_and_are_not_asked_about(
    features: dict[str, float], spy: SpyRecommender
) -> None:
    sampler = WarmstartSampler(spy, features=features, n_startup_configs=2)
    default = dict(sampler.space.get_default_configuration())
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(default)
    study.optimize(lambda t: float(suggest_from_space(t, sampler.space)["num_leaves"]), n_trials=3)
    assert study.trials[0].params == default
    assert spy.calls[0]["exclude"] == [default]  # the enqueued trial, already tried
    # One observation (the default): the answer continues the zero-shot set of 10.
    zero = [dict(s.config) for s in spy.inner.suggest(features, 10, exclude=[default]).suggestions]
    assert [t.params for t in study.trials[1:]] == zero[:2]


class _Exhausted:
    def __init__(self, space: Any) -> None:
        self.space = space

    def suggest_many(self, queries: Any) -> Any:
        raise AssertionError("not used")

    def suggest(self, *args: Any, **kwargs: Any) -> Any:
        raise FailedPreconditionError("no candidate satisfies the constraints")


def test_no_config_left_hands_over_to_the_fallback(features: dict[str, float]) -> None:
    space = get_learner("knn").search_space()
    sampler = WarmstartSampler(_Exhausted(space), features=features, seed=0)
    study = optuna.create_study(sampler=sampler)
    with pytest.warns(UserWarning, match="the fallback sampler takes over"):
        study.optimize(lambda t: float(suggest_from_space(t, space)["n_neighbors"]), n_trials=3)
    assert len(study.trials) == 3


def test_bad_construction_is_named(features: dict[str, float], spy: SpyRecommender) -> None:
    with pytest.raises(InvalidRequestError, match="needs the task's meta-features"):
        WarmstartSampler(spy)
    with pytest.raises(InvalidRequestError, match="must be a warmstart Recommender"):
        WarmstartSampler(object(), features=features)
    with pytest.raises(InvalidRequestError, match="n_startup_configs must be an integer >= 1"):
        WarmstartSampler(spy, features=features, n_startup_configs=0)
    sampler = WarmstartSampler(spy, features=features)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    with pytest.raises(ValueError, match="multi-objective"):
        study.ask()
