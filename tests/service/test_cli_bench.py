"""The `warmstart bench` commands as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from tests.factories import require_pmlb
from warmstart.metamodel.store import RecordStore
from warmstart.service.cli import app

runner = CliRunner()


def test_bench_suites_lists_every_kind() -> None:
    result = runner.invoke(app, ["bench", "suites"])
    assert result.exit_code == 0
    for kind in ("pmlb", "files", "sklearn", "synthetic", "openml"):
        assert kind in result.output


def test_bench_learners_lists_them_and_prints_a_space() -> None:
    listing = runner.invoke(app, ["bench", "learners"])
    assert listing.exit_code == 0
    for name in ("lightgbm", "random_forest", "svm", "logistic_regression", "knn", "mlp"):
        assert name in listing.output
    space = runner.invoke(app, ["bench", "learners", "--space", "mlp"])
    assert space.exit_code == 0, space.output
    body = space.output.split("\n", 1)[1].rsplit("# library default:", 1)[0]
    names = {hp["name"] for hp in json.loads(body)["hyperparameters"]}
    assert {"n_layers", "activation", "optimizer", "learning_rate", "batch_size"} <= names
    unknown = runner.invoke(app, ["bench", "learners", "--space", "xgboost"])
    assert unknown.exit_code == 1
    assert "no learner named 'xgboost'" in unknown.output


def test_bench_run_prints_a_plan_progress_and_a_summary(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    args = ["bench", "run", "--suite", "sklearn:iris", "--learners", "knn,lightgbm"]
    args += ["--configs", "2", "--folds", "2", "--workers", "1", "--db", db]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 tasks x 2 learners x 2 configs x 1 seeds = 4 evaluations" in result.output
    assert "progress 4/4 (failed 0, timeout 0)" in result.output
    assert "4 new records stored" in result.output
    again = runner.invoke(app, args)
    assert "4 already stored, 0 to run" in again.output
    with RecordStore.open(db) as store:
        assert store.count_records() == 4


def test_bench_run_refuses_bad_options_clearly(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'b.db'}"]
    cases = [
        (["--sampler", "lhs"], "--sampler must be sobol, random, grid or local"),
        (["--sampler", "local", "--scale", "0"], "--scale must be in (0, 1], got 0.0"),
        (["--seeds", "1,x"], "--seeds takes integers"),
        (["--learners", "knn", "--folds", "1"], "folds must be >= 2"),
        (["--learners", "knn", "--holdout", "1.5"], "hold-out fraction must be in (0, 1)"),
        (["--learners", "knn", "--workers", "0"], "--workers must be >= 1"),
        (["--learners", "knn", "--dask", "local:zero"], "needs a worker count"),
    ]
    for extra, message in cases:
        result = runner.invoke(app, ["bench", "run", "--suite", "sklearn:iris", *extra, *db])
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output, (extra, result.output)
    missing = runner.invoke(app, ["bench", "run", "--suite", "pmlb:/no/such/folder", *db])
    assert missing.exit_code == 2
    assert "/no/such/folder" in missing.output


def test_features_compute_describes_byte_identical_datasets_once(tmp_path: Path) -> None:
    # PMLB ships two byte-identical files under different names; they are one task.
    folder = tmp_path / "suite"
    folder.mkdir()
    source = require_pmlb() / "iris.tsv.gz"
    for name in ("iris_a", "iris_b"):
        shutil.copy(source, folder / f"{name}.tsv.gz")
    db = f"sqlite:///{tmp_path / 'f.db'}"
    args = ["features", "compute", "--suite", f"files:{folder}", "--db", db]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "1 tasks described, 1 already had" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "0 tasks described, 2 already had" in again.output
    with RecordStore.open(db) as store:
        assert len(store.list_tasks()) == 1
