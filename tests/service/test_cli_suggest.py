"""`warmstart suggest` and `warmstart report` against a real server, as the README runs them.

The server is the real one on port 0 in a background thread (the server tests'
``ServerThread``), serving a small model trained on synthetic tasks whose
meta-features are the real feature set (version ``mf-1``) scattered around
iris's, so a table described locally is in distribution.
"""

from __future__ import annotations

import dataclasses
import json
import math
import socket
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from typer.testing import CliRunner

from tests.metamodel.synthetic_world import FAST, SPACE, true_score
from tests.service.server.conftest import (
    WRITE_TOKEN,
    ServerThread,
    clear_client_env,
    registry_with,
    serving,
    settings,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.bundle._train import train_from_records
from warmstart.metamodel.features import FEATURE_NAMES, FEATURE_VERSION, compute_meta_features
from warmstart.metamodel.spaces import (
    config_hash,
    load_configspace,
    sample_configs,
    validate_config,
)
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import (
    EvaluationRecord,
    RecordSource,
    RecordStatus,
    Task,
    TaskFeatures,
    TaskType,
)
from warmstart.service.cli import app

runner = CliRunner()
CS = load_configspace(SPACE)
N_TASKS = 30


def _iris_frame() -> pd.DataFrame:
    X, y = load_iris(return_X_y=True, as_frame=True)
    frame = X.copy()
    frame["species"] = y
    return frame


def _world() -> tuple[list[Task], list[TaskFeatures], list[EvaluationRecord]]:
    """Tasks around iris in meta-feature space; the best config follows two hidden traits."""
    frame = _iris_frame()
    iris = compute_meta_features(frame.drop(columns="species"), frame["species"], "multiclass")
    base = np.array([iris[name] for name in FEATURE_NAMES])
    rng = np.random.default_rng(7)
    configs = sample_configs(CS, 30, method="random", seed=7)
    tasks, features, records = [], [], []
    for i in range(N_TASKS):
        task_id = f"near-iris-{i}"
        traits = rng.random(2)
        vector = base * np.exp(rng.normal(0.0, 0.2, base.shape))
        tasks.append(Task(task_id, f"synthetic/{i}", TaskType.MULTICLASS, "synthetic", 150, 4))
        features.append(
            TaskFeatures(task_id, FEATURE_VERSION, FEATURE_NAMES, tuple(map(float, vector)))
        )
        for config in configs:
            records.append(
                EvaluationRecord(
                    task_id=task_id,
                    space_id=SPACE.space_id,
                    config=config,
                    config_hash=config_hash(config),
                    score=true_score(config, traits) + float(rng.normal(0, 0.01)),
                    status=RecordStatus.OK,
                    fit_seconds=0.5 + 0.05 * float(config["C"]) ** 0.5,
                )
            )
    return tasks, features, records


TASKS, FEATURES, RECORDS = _world()


def train_world_bundle() -> ModelBundle:
    """A small model of the world above, on the real meta-features."""
    features = {f.task_id: f for f in FEATURES}
    names = {t.task_id: t.name for t in TASKS}
    with warnings.catch_warnings():  # iris leaves the regression-only features NaN everywhere
        warnings.simplefilter("ignore", RuntimeWarning)
        return train_from_records(SPACE, RECORDS, features, names, FEATURE_VERSION, FAST)


@pytest.fixture(scope="module")
def mf_bundle() -> ModelBundle:
    """A small model of the world above, on the real meta-features."""
    return train_world_bundle()


@pytest.fixture
def server(mf_bundle: ModelBundle, tmp_path: Path) -> Iterator[ServerThread]:
    """A real server on port 0 over a store that knows the tasks (and holds no records)."""
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with serving(mf_bundle, url, TASKS, SPACE, FEATURES) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_client_env(monkeypatch, tmp_path / "home")


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    path = tmp_path / "iris.csv"
    _iris_frame().to_csv(path, index=False)
    return path


def _suggest(server: ServerThread, data: Path, *extra: str) -> list[str]:
    return [
        "suggest",
        "--data",
        str(data),
        "--target",
        "species",
        "--space",
        "svm_like",
        "--server",
        server.target,
        *extra,
    ]


def _stored(server: ServerThread) -> int:
    return len(server.store.get_records(RecordFilter(source=RecordSource.CLIENT)))


# -- suggest -------------------------------------------------------------------------------------


def test_suggest_prints_a_table_with_the_model_and_neighbours(
    server: ServerThread, iris_csv: Path, mf_bundle: ModelBundle
) -> None:
    result = runner.invoke(app, _suggest(server, iris_csv, "-k", "3"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert mf_bundle.version in out
    assert "multiclass, 150 rows x 4 features" in out
    assert "computed locally" in out
    assert "out of distribution: no" in out
    assert "nearest training tasks (distance): synthetic/" in out
    ranks = [line for line in out.splitlines() if line.startswith(("│ 1 ", "│ 2 ", "│ 3 "))]
    assert len(ranks) == 3
    assert "│ 4 " not in out
    assert "C=" in out
    assert "kernel=" in out


def test_suggest_json_is_typed_and_valid_in_the_space(
    server: ServerThread, iris_csv: Path, mf_bundle: ModelBundle
) -> None:
    result = runner.invoke(app, _suggest(server, iris_csv, "-k", "5", "--json"))
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)  # JSON only: nothing else on stdout
    assert answer["model_version"] == mf_bundle.version
    assert answer["space_id"] == SPACE.space_id
    assert answer["out_of_distribution"] is False
    assert answer["task"]["task_type"] == "multiclass"
    assert answer["task"]["feature_version"] == FEATURE_VERSION
    assert len(answer["nearest_tasks"]) == 5
    suggestions = answer["suggestions"]
    assert [s["rank"] for s in suggestions] == [1, 2, 3, 4, 5]
    for s in suggestions:
        config = s["config"]
        assert validate_config(CS, config) == config
        assert type(config["C"]) is float
        assert type(config["kernel"]) is str
        assert type(config["shrinking"]) is bool
        if "degree" in config:
            assert type(config["degree"]) is int
        assert 0 < s["predicted_fit_seconds"] < math.inf
        assert s["uncertainty"] >= 0
        assert s["origin"] in {"portfolio", "neighbour", "model", "refinement", "default"}


def test_remote_describe_agrees_with_local(server: ServerThread, iris_csv: Path) -> None:
    local = runner.invoke(app, _suggest(server, iris_csv, "-k", "3", "--json"))
    remote = runner.invoke(
        app, _suggest(server, iris_csv, "-k", "3", "--json", "--remote-describe")
    )
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    here, there = json.loads(local.stdout), json.loads(remote.stdout)
    assert there["task"]["described"] == "on the server"
    assert there["nearest_tasks"] == here["nearest_tasks"]
    assert [s["config"] for s in there["suggestions"]] == [s["config"] for s in here["suggestions"]]


def test_exclude_and_max_fit_seconds_shape_the_answer(
    server: ServerThread, iris_csv: Path, tmp_path: Path
) -> None:
    first = json.loads(runner.invoke(app, _suggest(server, iris_csv, "-k", "2", "--json")).stdout)
    tried = [s["config"] for s in first["suggestions"]]
    exclude = tmp_path / "tried.json"
    exclude.write_text(json.dumps(tried))
    result = runner.invoke(
        app,
        _suggest(
            server,
            iris_csv,
            "-k",
            "4",
            "--json",
            "--exclude",
            str(exclude),
            "--max-fit-seconds",
            "100",
        ),
    )
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)["suggestions"]
    assert len(again) == 4
    assert not {config_hash(c) for c in tried} & {config_hash(s["config"]) for s in again}
    assert all(s["predicted_fit_seconds"] <= 100 for s in again)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"--data": "missing.csv"}, 2, "no such file"),
        ({"--target": "colour"}, 2, "no target column 'colour'"),
        ({"--space": "xgboost"}, 1, "no model serves space 'xgboost'"),
        ({"--server": "DOWN"}, 1, "start one with `warmstart serve`"),
        ({"--server": "no-port"}, 2, "server address must be HOST:PORT"),
        ({"-k": "0"}, 2, "-k must be at least 1, got 0"),
        ({"-k": "101"}, 2, "the server refused the request: k must be an integer in [1, 100]"),
        ({"--max-fit-seconds": "0.000001"}, 1, "no candidate is predicted to fit within"),
        ({"--exclude": "BAD"}, 2, "exclude[0]"),
        ({"--exclude": "NOTLIST"}, 2, "must hold a JSON list of configs"),
        ({"--task-type": "regression"}, 2, "a regression target must be numeric"),
    ],
)
def test_suggest_errors_are_one_clear_line(
    server: ServerThread,
    iris_csv: Path,
    tmp_path: Path,
    change: dict[str, str],
    code: int,
    fragment: str,
) -> None:
    args = _suggest(server, iris_csv)
    for flag, value in change.items():
        if value == "DOWN":
            value = f"127.0.0.1:{_free_port()}"
        elif value == "missing.csv":
            value = str(tmp_path / value)
        elif value == "BAD":
            (tmp_path / "bad.json").write_text(json.dumps([{"C": -1.0, "kernel": "rbf"}]))
            value = str(tmp_path / "bad.json")
        elif value == "NOTLIST":
            (tmp_path / "obj.json").write_text(json.dumps({"C": 1.0}))
            value = str(tmp_path / "obj.json")
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    if "--task-type" in change:  # a string target as regression
        frame = _iris_frame()
        frame["species"] = frame["species"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
        frame.to_csv(iris_csv, index=False)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- report --------------------------------------------------------------------------------------


def _results(n: int, *, prefix: str = "r") -> list[dict[str, Any]]:
    configs = sample_configs(CS, n, method="random", seed=11)
    out: list[dict[str, Any]] = []
    for i, config in enumerate(configs):
        item: dict[str, Any] = {
            "id": f"{prefix}{i}",
            "task_id": TASKS[i % len(TASKS)].task_id,
            "space": "svm_like",
            "config": config,
            "score": 0.8,
            "metrics": {"roc_auc": 0.8},
            "fit_seconds": 0.3,
            "seed": 1,
        }
        if i == n - 1:
            item.update(status="failed", score=None, error="ValueError: boom")
        out.append(item)
    return out


def _jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def test_report_stores_then_counts_as_already(server: ServerThread, tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "results.jsonl", _results(7))
    args = ["report", str(path), "--server", server.target, "--token", WRITE_TOKEN, "--batch", "3"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "7 results in 3 batch(es)" in first.stdout
    assert "7 stored, 0 already reported" in first.stdout
    assert _stored(server) == 7
    again = runner.invoke(app, [*args, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {
        "results": 7,
        "stored": 0,
        "already": 7,
        "duplicates": 0,
        "batches": 3,
        "duplicate_ids": [],
    }
    assert _stored(server) == 7


def test_report_reads_a_json_list_and_the_token_from_the_environment(
    server: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results(3, prefix="list-"), indent=2))
    monkeypatch.setenv("WARMSTART_TOKEN", WRITE_TOKEN)
    monkeypatch.setenv("WARMSTART_SERVER", server.target)
    result = runner.invoke(app, ["report", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 stored" in result.stdout
    assert _stored(server) == 3


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (lambda items: items[1].update(score="high"), [":2: field 'score' must be a finite"]),
        (lambda items: items[2].pop("task_id"), [":3: field 'task_id' is required"]),
        (lambda items: items[0].update(colour="red"), [":1: unknown field(s) 'colour'"]),
        (lambda items: items[3].update(status="done"), [":4: field 'status' must be ok or"]),
        (lambda items: items[4].update(id="r0"), [":5: field 'id': 'r0' is used before"]),
        (lambda items: items[0].update(score=None), [":1: field 'score' is required when"]),
        (
            lambda items: items[1]["config"].update(C=-5.0),
            [":2: field 'config': parameter 'C' must be"],
        ),
        (lambda items: items[1].update(space="nope"), [":2: field 'space': the server knows no"]),
    ],
)
def test_an_invalid_file_is_named_by_line_and_field_and_nothing_is_sent(
    server: ServerThread,
    tmp_path: Path,
    edit: Callable[[list[dict[str, Any]]], object],
    fragments: list[str],
) -> None:
    items = _results(6)
    edit(items)
    path = _jsonl(tmp_path / "results.jsonl", items)
    result = runner.invoke(
        app, ["report", str(path), "--server", server.target, "--token", WRITE_TOKEN]
    )
    assert result.exit_code == 2, result.output
    assert "nothing was sent" in result.output
    for fragment in fragments:
        assert f"{path}{fragment}" in result.output
    assert "Traceback" not in result.output
    assert _stored(server) == 0


def test_report_refusals(server: ServerThread, tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "results.jsonl", _results(2))
    base = ["report", str(path), "--server", server.target]
    no_token = runner.invoke(app, base)
    assert no_token.exit_code == 2
    assert "reporting needs a write token" in no_token.output
    wrong = runner.invoke(app, [*base, "--token", "not-the-token"])
    assert wrong.exit_code == 1
    assert "refused the token" in wrong.output
    (tmp_path / "broken.jsonl").write_text('{"id": "a",\n')
    broken = runner.invoke(app, ["report", str(tmp_path / "broken.jsonl"), "--token", "t"])
    assert broken.exit_code == 2
    assert "broken.jsonl:1: not valid JSON" in broken.output
    unknown_task = _results(1)
    unknown_task[0]["task_id"] = "no-such-task"
    path = _jsonl(tmp_path / "unknown.jsonl", unknown_task)
    refused = runner.invoke(
        app, ["report", str(path), "--server", server.target, "--token", WRITE_TOKEN]
    )
    assert refused.exit_code == 1
    assert f"unknown task_id 'no-such-task' (at {path}:1)" in refused.output
    assert _stored(server) == 0


def test_a_model_of_other_meta_features_asks_for_remote_describe(
    mf_bundle: ModelBundle, iris_csv: Path, tmp_path: Path
) -> None:
    other = dataclasses.replace(mf_bundle, feature_version="mf-0")
    store = RecordStore.open(f"sqlite:///{tmp_path / 'other.db'}")
    with ServerThread(registry_with(other), store, settings()) as running:
        result = runner.invoke(app, _suggest(running, iris_csv))
    assert result.exit_code == 1, result.output
    assert "takes meta-features 'mf-0'" in result.output
    assert "run with --remote-describe" in result.output
