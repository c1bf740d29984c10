"""The new-task round trip from the command line, and `warmstart tasks list | show`.

`suggest --data ... --token T --json` registers the table and shows its ``task_id``;
`report` of three results for it stores three; the next `suggest --json` used those
three observations and suggests none of their configs again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.metamodel.synthetic_world import SPACE
from tests.service.server.conftest import WRITE_TOKEN, ServerThread, clear_client_env, serving
from tests.service.test_cli_suggest import (
    FEATURES,
    TASKS,
    _iris_frame,
    _suggest,
    train_world_bundle,
)
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.spaces import config_hash
from warmstart.service.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def mf_bundle() -> ModelBundle:
    """The small model of `test_cli_suggest`'s world, on the real meta-features."""
    return train_world_bundle()


@pytest.fixture
def server(
    mf_bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerThread]:
    """A real server on port 0 over a store that knows the training tasks."""
    clear_client_env(monkeypatch, tmp_path / "home")
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with serving(mf_bundle, url, TASKS, SPACE, FEATURES) as running:
        yield running


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    """Iris as a CSV file (target column ``species``)."""
    path = tmp_path / "iris.csv"
    _iris_frame().to_csv(path, index=False)
    return path


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_a_table_is_registered_reported_on_and_its_results_steer_the_next_answer(
    server: ServerThread, iris_csv: Path, tmp_path: Path
) -> None:
    first = _json(_suggest(server, iris_csv, "-k", "5", "--token", WRITE_TOKEN, "--json"))
    task = first["task"]
    assert isinstance(task, dict)
    task_id = task["task_id"]
    assert isinstance(task_id, str)
    assert len(task_id) == 16
    assert first["observations"] == 0
    suggestions = first["suggestions"]
    assert isinstance(suggestions, list)
    tried = [s["config"] for s in suggestions[:3]]
    results = tmp_path / "results.jsonl"
    results.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"run-{i}",
                    "task_id": task_id,
                    "space": "svm_like",
                    "config": c,
                    "score": 0.7 + i / 100,
                }
            )
            + "\n"
            for i, c in enumerate(tried)
        )
    )
    reported = _json(
        ["report", str(results), "--server", server.target, "--token", WRITE_TOKEN, "--json"]
    )
    assert (reported["stored"], reported["already"], reported["duplicates"]) == (3, 0, 0)
    again = _json(_suggest(server, iris_csv, "-k", "5", "--token", WRITE_TOKEN, "--json"))
    again_task = again["task"]
    assert isinstance(again_task, dict)
    assert again_task["task_id"] == task_id
    assert again["observations"] == 3
    next_configs = again["suggestions"]
    assert isinstance(next_configs, list)
    assert len(next_configs) == 5
    assert not {config_hash(c) for c in tried} & {config_hash(s["config"]) for s in next_configs}

    listed = _json_list(["tasks", "list", "--server", server.target, "--name", "iris", "--json"])
    assert [t["task_id"] for t in listed] == [task_id]
    shown = _json(["tasks", "show", task_id, "--server", server.target, "--json"])
    assert shown["name"] == "iris.csv"
    assert shown["results"] == [{"space_id": again["space_id"], "space": "svm_like", "results": 3}]


def _json_list(args: list[str]) -> list[dict[str, object]]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    loaded: list[dict[str, object]] = json.loads(result.stdout)
    return loaded


def test_without_a_token_suggest_registers_nothing(server: ServerThread, iris_csv: Path) -> None:
    answer = _json(_suggest(server, iris_csv, "-k", "2", "--json"))
    task = answer["task"]
    assert isinstance(task, dict)
    assert "task_id" not in task
    assert answer["observations"] == 0
    result = runner.invoke(app, ["tasks", "show", "0123456789abcdef", "--server", server.target])
    assert result.exit_code != 0
    assert "unknown task_id '0123456789abcdef'" in result.output


def test_a_table_described_on_the_server_is_registered_too(
    server: ServerThread, iris_csv: Path
) -> None:
    local = _json(_suggest(server, iris_csv, "-k", "2", "--token", WRITE_TOKEN, "--json"))
    remote = _json(
        _suggest(server, iris_csv, "-k", "2", "--token", WRITE_TOKEN, "--remote-describe", "--json")
    )
    assert remote["task_id"] == local["task_id"]
    assert isinstance(remote["task_id"], str)
    assert len(remote["task_id"]) == 16
