"""WarmstartSampler driven by the service: an Optuna study against a real server in a thread.

With a registered task, every finished trial is reported and stored, and the next
request reads them from the store; with meta-features only, they travel inline.
The last test is the issue's must-show: 20 trials of a real LightGBM fit on a
registered task, served by the shipped LightGBM model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from sklearn.model_selection import train_test_split

from tests.factories import require_pmlb
from tests.metamodel.synthetic_world import CS, SPACE
from tests.service.server.conftest import (
    WRITE_TOKEN,
    ServerThread,
    registry_with,
    seed_store,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.spaces import config_hash, validate_config
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import ConfigValue, RecordSource
from warmstart.service.client import WarmstartClient
from warmstart.service.seeding import WarmstartSampler, suggest_from_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

FEATURES = {"f0": 0.3, "f1": 0.8, "f2": 0.5, "f3": 0.5}


class SpyClient:
    """A client that records every suggest request's keyword arguments and answer."""

    def __init__(self, client: WarmstartClient) -> None:
        self.client = client
        self.requests: list[dict[str, Any]] = []
        self.answers: list[Any] = []

    def suggest(self, task: Any, space: str, k: int = 5, **kwargs: Any) -> Any:
        answer = self.client.suggest(task, space, k, **kwargs)
        self.requests.append({"task": task, "k": k, **kwargs})
        self.answers.append(answer)
        return answer

    def report(self, results: Any) -> Any:
        return self.client.report(results)


def _score(config: Mapping[str, ConfigValue]) -> float:
    return sum(hash(repr(v)) % 97 for v in config.values()) / 97.0


def _keys(configs: Sequence[Mapping[str, ConfigValue]]) -> set[str]:
    return {config_hash(c) for c in configs}


@pytest.fixture(scope="module")
def served(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """One server for the synthetic tests; each registers a task of its own."""
    store = seed_store(f"sqlite:///{tmp_path_factory.mktemp('sampler') / 'warmstart.db'}")
    with ServerThread(registry_with(bundle), store, settings()) as server:
        yield server


@pytest.fixture
def client(served: ServerThread) -> Iterator[WarmstartClient]:
    with WarmstartClient(served.target, token=WRITE_TOKEN) as opened:
        yield opened


def _register(client: WarmstartClient, f0: float) -> str:
    return client.register_task(
        {**FEATURES, "f0": f0},
        feature_version="test-1",
        task_type="binary",
        n_rows=500,
        n_features=4,
    ).task.task_id


def test_a_registered_task_gets_every_trial_reported_and_stored(
    client: WarmstartClient,
) -> None:
    task_id = _register(client, 0.31)
    zero_shot = [dict(s.config) for s in client.suggest(task_id, "svm_like", k=3).suggestions]
    spy = SpyClient(client)
    sampler = WarmstartSampler(
        spy, task_id=task_id, space=SPACE, space_name="svm_like", n_startup_configs=3, seed=0
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: _score(suggest_from_space(t, CS)), n_trials=8)

    params = [t.params for t in study.trials]
    assert params[:3] == zero_shot
    assert len(_keys(params)) == 8
    for config in params:
        validate_config(CS, config)
    assert [(r.space_name, r.results) for r in client.get_task(task_id).results] == [
        ("svm_like", 8)
    ]
    # Observations come from the store, none inline; the service says it used them.
    assert all(request["observations"] == [] for request in spy.requests)
    assert [a.observations for a in spy.answers] == [0, 3, 4, 5, 6, 7]


def test_meta_features_only_send_the_observations_inline(
    client: WarmstartClient, served: ServerThread
) -> None:
    reported = served.store.count_records(RecordFilter(source=RecordSource.CLIENT))
    spy = SpyClient(client)
    sampler = WarmstartSampler(
        spy,
        features=FEATURES,
        feature_version="test-1",
        space=SPACE,
        space_name="svm_like",
        n_startup_configs=2,
    )
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(lambda t: _score(suggest_from_space(t, CS)), n_trials=5)

    assert len(_keys([t.params for t in study.trials])) == 5
    last = spy.requests[-1]
    assert [o.score for o in last["observations"]] == [-t.value for t in study.trials[:4]]  # type: ignore[operator]
    assert spy.answers[-1].observations == 4
    assert served.store.count_records(RecordFilter(source=RecordSource.CLIENT)) == reported


def test_a_client_without_a_write_token_warns_and_sends_observations_inline(
    served: ServerThread, client: WarmstartClient
) -> None:
    task_id = _register(client, 0.32)
    with WarmstartClient(served.target) as reader:
        spy = SpyClient(reader)
        sampler = WarmstartSampler(
            spy, task_id=task_id, space=SPACE, space_name="svm_like", n_startup_configs=1
        )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        with pytest.warns(UserWarning, match="reporting trial 0 to the service failed"):
            study.optimize(lambda t: _score(suggest_from_space(t, CS)), n_trials=4)
    assert len(spy.requests[-1]["observations"]) == 3
    assert spy.answers[-1].observations == 3


def test_study_of_real_lightgbm_fits_on_a_registered_task(tmp_path: Path) -> None:
    """The issue's must-show: 20 trials, 20 records stored, zero-shot first."""
    from warmstart.benchmarks.kb import default_kb_dir
    from warmstart.benchmarks.learners import get_learner
    from warmstart.benchmarks.tasks import load_suite
    from warmstart.metamodel.bundle import load_bundle
    from warmstart.metamodel.features import FEATURE_VERSION, compute_meta_features

    data = load_suite(f"pmlb:{require_pmlb()}").load("breast_cancer")
    features = compute_meta_features(data.X, data.y, data.task.task_type)
    bundle = load_bundle(default_kb_dir() / "models" / "lightgbm.wsb")
    store = RecordStore.open(f"sqlite:///{tmp_path / 'warmstart.db'}")
    learner = get_learner("lightgbm")
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.33, random_state=0, stratify=data.y
    )

    def objective(trial: optuna.Trial) -> float:
        config = suggest_from_space(trial, learner.search_space())
        model = learner.make_estimator(config, data.task.task_type, seed=0)
        return float(model.fit(X_train, y_train).score(X_test, y_test))

    with (
        ServerThread(registry_with(bundle), store, settings()) as server,
        WarmstartClient(server.target, token=WRITE_TOKEN) as client,
    ):
        task_id = client.register_task(
            features,
            feature_version=FEATURE_VERSION,
            task_type=data.task.task_type,
            n_rows=len(data.X),
            n_features=data.X.shape[1],
            name="pmlb/breast_cancer",
        ).task.task_id
        zero_shot = [dict(s.config) for s in client.suggest(task_id, "lightgbm", k=5).suggestions]
        sampler = WarmstartSampler(
            client, task_id=task_id, space=learner.search_space(), space_name="lightgbm", seed=0
        )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=20)
        detail = client.get_task(task_id)

    params = [t.params for t in study.trials]
    assert params[:5] == zero_shot
    assert len(_keys(params)) == 20
    assert [(r.space_name, r.results) for r in detail.results] == [("lightgbm", 20)]
    stored = list(store.iter_records(RecordFilter(task_id=task_id)))
    assert sorted(r.score for r in stored) == sorted(t.value for t in study.trials)  # type: ignore[type-var]
