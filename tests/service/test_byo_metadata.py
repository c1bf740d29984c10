"""docs/BYO_METADATA.md's recipe on TabRepo's early table, step by step, as a user runs it.

From the three files of ``shared/datasets/tabrepo-early`` to a served model and a
suggestion for a task given by its OpenML qualities: the reshaping script, then
only ``warmstart`` commands (the server runs in-process on port 0, loading the
store's serving version as ``warmstart serve`` does). Each refusal the recipe
used to meet is checked on the way, with what replaced it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.factories import require_tabrepo
from tests.service.server.conftest import ServerThread, settings
from warmstart.metamodel.store import RecordStore
from warmstart.service.cli import app
from warmstart.service.server import ModelRegistry, store_locator

RESHAPE = Path(__file__).resolve().parents[2] / "examples" / "tabrepo_reshape.py"
SPACE = "tabrepo_lightgbm"
VERSION = "openml-q1"
NO_QUALITIES = (
    "openml-task-359949, openml-task-359950, openml-task-359951, openml-task-359952, "
    "openml-task-360932, openml-task-360933, openml-task-360945"
)
SMALL = ["--n-models", "2", "--n-estimators", "60"]

runner = CliRunner()


@dataclass(frozen=True)
class Recipe:
    """The reshaped files and a data folder whose store went through the recipe up to train."""

    folder: Path
    db: list[str]
    env: dict[str, str]
    bundle: Path
    version: str
    train_output: str

    def run(self, *args: str) -> Result:
        return runner.invoke(app, [*args, *self.db], env=self.env)


def _reshape(out: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(RESHAPE), str(require_tabrepo()), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Recipe:
    folder = tmp_path_factory.mktemp("tabrepo")
    said = _reshape(folder)
    assert "9672 records (93 tasks x 104 configs)" in said
    assert "openml-q1 qualities of 86 tasks (7 have none)" in said
    env = {"WARMSTART_HOME": str(folder / "home")}
    db = ["--db", str(folder / "warmstart.db")]
    records = str(folder / "tabrepo_records.parquet")

    # Partial configs: refused, with the way out named; then filled.
    refused = runner.invoke(app, ["records", "import", records, *db], env=env)
    assert refused.exit_code == 2
    assert "279 rows lack active parameters" in refused.output
    assert "--fill-defaults" in refused.output
    imported = runner.invoke(
        app, ["records", "import", records, "--fill-defaults", "--lower-is-better", *db], env=env
    )
    assert imported.exit_code == 0, imported.output
    assert "9672 new records, 93 new tasks, 1 new spaces" in imported.output
    assert "279 rows had missing parameters filled with the defaults" in imported.output

    features = runner.invoke(
        app, ["features", "import", str(folder / "tabrepo_features.parquet"), *db], env=env
    )
    assert features.exit_code == 0, features.output
    assert "86 tasks' meta-features new" in features.output

    # Trained on mf-1 by default, which these tasks do not have: the message says what to do.
    wrong = runner.invoke(app, ["train", "--space", SPACE, *SMALL, *db], env=env)
    assert wrong.exit_code == 1
    assert "none of the 93 tasks" in wrong.output
    assert "--feature-version" in wrong.output
    trained = runner.invoke(
        app, ["train", "--space", SPACE, "--feature-version", VERSION, *SMALL, *db], env=env
    )
    assert trained.exit_code == 0, trained.output
    bundles = list((folder / "home" / "models").glob("*.wsb"))
    assert len(bundles) == 1
    return Recipe(folder, db, env, bundles[0], bundles[0].stem, trained.output)


def test_training_names_the_tasks_it_leaves_out(recipe: Recipe) -> None:
    out = recipe.train_output
    assert f"on 8840 records of 85 tasks, meta-features {VERSION}" in out
    assert f"1 task(s), every meta-feature '{VERSION}' is missing (null or NaN): SAT11-HAN" in out
    assert f"7 task(s), no meta-features '{VERSION}': {NO_QUALITIES}" in out


def test_a_bundle_of_another_feature_set_shows_and_promotes(recipe: Recipe) -> None:
    info = runner.invoke(app, ["model", "info", str(recipe.bundle), "--json"])
    assert info.exit_code == 0, info.output
    summary = json.loads(info.stdout)
    assert (summary["feature_version"], summary["feature_count"]) == (VERSION, 10)
    promoted = recipe.run("model", "promote", recipe.version)
    assert promoted.exit_code == 0, promoted.output
    assert f"space {SPACE}: now serving {recipe.version}" in promoted.output


def test_evaluate_names_left_out_tasks_and_writes_per_task_results(recipe: Recipe) -> None:
    out = recipe.folder / "results"
    # Three outer folds rather than the default five: every task is still held out once,
    # with 12 bundles trained rather than 20 (each outer fold's and its inner folds').
    args = ["--feature-version", VERSION, "--folds", "3", "--out", str(out), *SMALL]
    result = recipe.run("evaluate", "--space", SPACE, *args)
    assert result.exit_code == 0, result.output
    assert "85 held-out tasks" in result.output
    assert "the evaluation left out 1 task(s), every meta-feature" in result.output
    assert "SAT11-HAN" in result.output
    # TabRepo's configs are not this space's Sobol ones: that fixed set is not measured.
    assert "own 32 configs (default and Sobol, seed 0) were measured on no" in result.output
    with (out / f"{SPACE}_pool_tasks.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 85
    assert {r["task_name"] for r in rows} >= {"credit-g", "vehicle"}
    assert all(0.0 <= float(r["warmstart@5"]) <= 1.0 for r in rows)
    assert f"{SPACE}_pool_tasks.csv" in (out / f"{SPACE}_pool.md").read_text()


@pytest.fixture
def served(recipe: Recipe) -> Iterator[ServerThread]:
    """`warmstart serve`'s way: the store's serving version, after `model promote`."""
    promoted = recipe.run("model", "promote", recipe.version)
    assert promoted.exit_code == 0, promoted.output
    store = RecordStore.open(f"sqlite:///{recipe.folder / 'warmstart.db'}")
    models = ModelRegistry(store_locator(store, recipe.folder / "home" / "models"))
    models.reload(strict=False)
    with ServerThread(models, store, settings()) as server:
        yield server


def test_suggest_for_a_task_given_by_its_openml_qualities(
    recipe: Recipe, served: ServerThread
) -> None:
    query = recipe.folder / "query_covertype.json"
    result = runner.invoke(
        app,
        [
            "suggest",
            "--space",
            SPACE,
            "--features",
            str(query),
            "--server",
            served.target,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["model_version"] == recipe.version
    assert answer["task"]["feature_version"] == VERSION
    assert (answer["task"]["given"], answer["task"]["missing"]) == (10, [])
    assert len(answer["suggestions"]) == 5
    names = {"extra_trees", "feature_fraction", "learning_rate", "min_data_in_leaf", "num_leaves"}
    assert all(set(s["config"]) == names for s in answer["suggestions"])
    # The same qualities as a CSV of name,value, one missing: it counts as missing.
    qualities = json.loads(query.read_text())
    table = recipe.folder / "query.csv"
    table.write_text(
        "name,value\n"
        + "".join(f"{k},{v}\n" for k, v in qualities.items() if k != "NumberOfClasses")
    )
    again = runner.invoke(
        app, ["suggest", "--space", SPACE, "--features", str(table), "--server", served.target]
    )
    assert again.exit_code == 0, again.output
    assert (
        f"9 meta-features {VERSION} given in {table} (1 not given: NumberOfClasses)" in again.output
    )


def test_suggest_for_a_stored_task_uses_its_stored_features(
    recipe: Recipe, served: ServerThread
) -> None:
    result = runner.invoke(
        app,
        [
            "suggest",
            "--space",
            SPACE,
            "--task-id",
            "openml-task-168757",
            "--server",
            served.target,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["nearest_tasks"][0] == {
        "task_id": "openml-task-168757",
        "name": "credit-g",
        "distance": 0.0,
    }


def test_suggest_from_a_table_says_which_features_to_give(
    recipe: Recipe, served: ServerThread
) -> None:
    table = recipe.folder / "some.csv"
    table.write_text("a,b,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n")
    result = runner.invoke(
        app,
        [
            *("suggest", "--space", SPACE, "--data", str(table), "--target", "y"),
            *("--server", served.target),
        ],
    )
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert f"takes meta-features '{VERSION}', which this warmstart cannot compute" in out
    assert "--features FILE" in out
    assert "NumberOfInstances, NumberOfFeatures, NumberOfClasses" in out
    unknown = recipe.folder / "unknown.json"
    unknown.write_text(json.dumps({"NumberOfInstances": 10, "n_rows": 10}))
    refused = runner.invoke(
        app, ["suggest", "--space", SPACE, "--features", str(unknown), "--server", served.target]
    )
    assert refused.exit_code == 2
    assert "unknown meta-feature name(s) 'n_rows' for version 'openml-q1'" in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the task one way"),
        (["--features", "f.json", "--task-id", "t"], "(got --features, --task-id)"),
        (["--data", "d.csv"], "--data needs --target"),
        (["--task-id", "t", "--target", "y"], "--target only applies with --data"),
        (["--task-id", "t", "--remote-describe"], "--remote-describe only applies with --data"),
    ],
)
def test_suggest_takes_the_task_one_way(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["suggest", "--space", SPACE, *args, "--server", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
