"""Learner probes through the service: DescribeTask runs them, the CLI and the in-process
``suggest`` pass them on, GetModelInfo names them.

The model is a small k-NN one (a real learner, so the probes really train) of tasks around
iris in meta-feature space, whose best ``n_neighbors`` follows a trait that only the
probes' scores reveal.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from typer.testing import CliRunner

from tests.factories import ok_record
from tests.metamodel.synthetic_world import FAST
from tests.service.server.conftest import WRITE_TOKEN, ServerThread, clear_client_env, serving
from warmstart.benchmarks.kb import KB_MODELS
from warmstart.benchmarks.learners import get_learner
from warmstart.metamodel.bundle import ModelBundle, train_from_records
from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION, compute_meta_features
from warmstart.metamodel.probes import probe_key, probe_version
from warmstart.metamodel.spaces import (
    config_hash,
    load_configspace,
    make_search_space,
    sample_configs,
)
from warmstart.metamodel.types import (
    ConfigValue,
    EvaluationRecord,
    Task,
    TaskFeatures,
    TaskType,
)
from warmstart.service.cli import app
from warmstart.service.client import WarmstartClient, WarmstartRpcError
from warmstart.service.local import suggest
from warmstart.service.probing import stored_probe_features

pytestmark = pytest.mark.slow

runner = CliRunner()
LEARNER = get_learner("knn")
SPACE = make_search_space(LEARNER.name, LEARNER.search_space())
N_TASKS = 30


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def _score(config: Mapping[str, ConfigValue], best: float, rng: np.random.Generator) -> float:
    gap = math.log2(float(config["n_neighbors"])) - best
    return 1.0 - 0.05 * gap**2 + float(rng.normal(0, 0.01))


def _world() -> tuple[
    list[Task], list[TaskFeatures], list[EvaluationRecord], dict[str, dict[str, float]]
]:
    """Tasks around iris; a config's score falls with its distance from the task's best
    log2(n_neighbors), a hidden trait that a probe's score reveals."""
    X, y = _iris()
    iris = compute_meta_features(X, y, "multiclass")
    base = np.array([iris[name] for name in FEATURE_NAMES])
    rng = np.random.default_rng(3)
    configs = [LEARNER.default_config(), *sample_configs(load_configspace(SPACE), 15, seed=3)]
    tasks, features, records, probes = [], [], [], {}
    for i in range(N_TASKS):
        task_id = f"near-iris-{i}"
        best = rng.uniform(0.0, 6.0)
        vector = base * np.exp(rng.normal(0.0, 0.2, base.shape))
        tasks.append(Task(task_id, f"synthetic/{i}", TaskType.MULTICLASS, "synthetic", 150, 4))
        features.append(
            TaskFeatures(task_id, FEATURE_VERSION, FEATURE_NAMES, tuple(map(float, vector)))
        )

        probes[task_id] = {config_hash(c): _score(c, best, rng) for c in configs}
        records += [
            replace(ok_record(task_id, SPACE, c, _score(c, best, rng)), fit_seconds=0.1)
            for c in configs
        ]
    return tasks, features, records, probes


TASKS, FEATURES, RECORDS, PROBES = _world()


@pytest.fixture(scope="module")
def probed() -> ModelBundle:
    """The world's model with 2 probes, serving a rule that reads them at every k (whether
    the inner folds would choose to read them is the bundle tests' subject, not these)."""
    features = {f.task_id: f for f in FEATURES}
    names = {t.task_id: t.name for t in TASKS}
    settings = replace(FAST, probes=2, validation_folds=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bundle = train_from_records(
            SPACE, RECORDS, features, names, FEATURE_VERSION, settings, probe_scores=PROBES
        )
    bundle = replace(
        bundle, training={**bundle.training, "set_rules": {"1": "expected_best+probes"}}
    )
    assert len(bundle.probes) == 2
    assert bundle.reads_probes
    return bundle


@pytest.fixture
def server(probed: ModelBundle, tmp_path: Path) -> Iterator[ServerThread]:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with serving(probed, url, TASKS, SPACE, FEATURES) as running:
        yield running


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    X, y = _iris()
    path = tmp_path / "iris.csv"
    X.assign(species=y).to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_client_env(monkeypatch, tmp_path / "home")


def test_describe_runs_the_models_probes_and_stores_them_with_the_task(
    server: ServerThread, probed: ModelBundle
) -> None:
    X, y = _iris()
    keys = [probe_key(h) for h, _ in probed.probes]
    with WarmstartClient(server.target) as client:
        info = client.model_info("knn")
        assert [h for h, _ in info.probes] == [h for h, _ in probed.probes]
        assert [dict(c) for _, c in info.probes] == [c for _, c in probed.probes]
        plain = client.describe(X, y, "multiclass").as_dict()
        assert not set(keys) & set(plain)
        described = client.describe(X, y, "multiclass", probe_space="knn").as_dict()
        assert all(0.5 < described[k] <= 1.0 for k in keys)  # k-NN on iris: good AUCs
        same = [
            described[n] == v or (math.isnan(v) and math.isnan(described[n]))
            for n, v in plain.items()
        ]
        assert all(same)  # the meta-features as without probes
        with pytest.raises(WarmstartRpcError) as caught:
            client.describe(X, y, "multiclass", probe_space="nonesuch")
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
    with WarmstartClient(server.target, token=WRITE_TOKEN) as client:
        registered = client.describe(X, y, "multiclass", probe_space="knn", name="iris")
    stored = server.store.get_task_features(registered.task_id, probe_version("knn")).as_dict()
    assert stored == {h: described[probe_key(h)] for h, _ in probed.probes}


def test_a_model_whose_rules_read_no_probes_runs_none(probed: ModelBundle, tmp_path: Path) -> None:
    unread = replace(probed, training={**probed.training, "set_rules": {"1": "expected_best"}})
    assert unread.probes
    assert not unread.reads_probes
    X, y = _iris()
    url = f"sqlite:///{tmp_path / 'unread.db'}"
    with (
        serving(unread, url, TASKS, SPACE, FEATURES) as running,
        WarmstartClient(running.target) as client,
    ):
        assert client.model_info("knn").probes == ()
        described = client.describe(X, y, "multiclass", probe_space="knn").as_dict()
    assert not any(name.startswith("probe:") for name in described)


def test_suggest_sends_the_table_for_probes_unless_told_not_to(
    server: ServerThread, iris_csv: Path
) -> None:
    base = ["suggest", "--data", str(iris_csv), "--target", "species", "--space", "knn"]
    asked = [*base, "--server", server.target, "-k", "3", "--json"]
    probed = runner.invoke(app, asked)
    assert probed.exit_code == 0, probed.output
    task = json.loads(probed.stdout)["task"]
    assert (task["described"], task["probes"]) == ("on the server", 2)
    plain = runner.invoke(app, [*asked, "--no-probes"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["task"]["described"] == "locally"
    assert json.loads(plain.stdout)["task"]["probes"] == 0
    shown = runner.invoke(app, [*base, "--server", server.target, "-k", "2"])
    assert "with 2 probe scores" in shown.stdout


def test_a_registered_tasks_stored_probes_are_read_by_its_id(
    server: ServerThread, iris_csv: Path
) -> None:
    asked = ["suggest", "--data", str(iris_csv), "--target", "species", "--space", "knn"]
    asked += ["--server", server.target, "--token", WRITE_TOKEN, "-k", "3", "--json"]
    first = runner.invoke(app, asked)
    assert first.exit_code == 0, first.output
    answer = json.loads(first.stdout)
    assert len(stored_probe_features(server.store, answer["task_id"], "knn")) == 2
    again = ["suggest", "--task-id", answer["task_id"], "--space", "knn"]
    by_id = runner.invoke(app, [*again, "--server", server.target, "-k", "3", "--json"])
    assert by_id.exit_code == 0, by_id.output
    configs = [s["config"] for s in answer["suggestions"]]
    assert [s["config"] for s in json.loads(by_id.stdout)["suggestions"]] == configs


def test_in_process_suggest_runs_the_probes(probed: ModelBundle, tmp_path: Path) -> None:
    probed.save(tmp_path / KB_MODELS / "knn.wsb")
    X, y = _iris()
    with_probes = suggest(X, y, space="knn", k=3, kb_dir=tmp_path)
    without = suggest(X, y, space="knn", k=3, kb_dir=tmp_path, probes=False)
    features = compute_meta_features(X, y, TaskType.MULTICLASS)
    recommender = probed.recommender()
    assert [s.config for s in without] == [
        dict(s.config) for s in recommender.suggest(features, 3).suggestions
    ]
    assert len(with_probes) == 3
    assert all(s.space == "knn" for s in with_probes)
    shown = runner.invoke(app, ["model", "info", str(tmp_path / KB_MODELS / "knn.wsb"), "--json"])
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.stdout)
    assert info["probes"] == [h for h, _ in probed.probes]
    assert info["set_rules"]["1"] == probed.set_rules[1]
