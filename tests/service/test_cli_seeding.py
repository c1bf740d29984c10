"""`warmstart evaluate --mode seeding` as a user runs it, on a store of the synthetic world,
and the settings checks of the evaluation modes (:mod:`warmstart.service.evaluation`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.metamodel.synthetic_world import SPACE, store_world, world
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import SeedingSettings
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import TaskFeatures
from warmstart.service.cli import app
from warmstart.service.evaluation import check_seeding, live_ks

runner = CliRunner()
pytest.importorskip("optuna")


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    tasks, records = world(15, seed=4)
    with RecordStore.open(url) as store:
        store_world(store, tasks, records, per_family=3)
        # The CLI uses the current feature version; the world's four features stand in.
        store.put_task_features(
            TaskFeatures(t, FEATURE_VERSION, ("f0", "f1", "f2", "f3"), tuple(map(float, f)))
            for t, f in tasks.items()
        )
    return url


def test_seeding_mode_prints_the_curves_and_writes_the_report(db: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["evaluate", "--space", SPACE.name, "--mode", "seeding", "--db", db, "--out", str(out)]
    args += ["--trials", "12", "--k", "3", "--repeats", "1", "--tasks", "5"]
    args += ["--n-models", "3", "--n-estimators", "60"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "seeding experiment" in result.output
    assert "5 held-out tasks x 1 TPE seeds" in result.output
    text = (out / f"{SPACE.name}_seeding.md").read_text()
    assert "| arm | trial 1 | trial 3 | trial 5 | trial 10 |" in text
    assert "Optuna TPE seeded with warmstart's top-k" in text
    assert (out / f"{SPACE.name}_seeding_regret.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (SeedingSettings(n_trials=0), "trials must be in [1, 1000], got 0"),
        (SeedingSettings(repeats=0), "repeats must be in [1, 100], got 0"),
        (SeedingSettings(k=60), "k must be in [1, trials (50)], got 60"),
        (SeedingSettings(max_tasks=0), "the number of tasks must be >= 1, got 0"),
    ],
)
def test_seeding_settings_out_of_range_are_refused(settings: SeedingSettings, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        check_seeding(settings)


def test_live_reports_the_usual_ks_up_to_the_one_asked_for() -> None:
    assert live_ks(1) == (1,)
    assert live_ks(5) == (1, 3, 5)
    assert live_ks(7) == (1, 3, 5, 7)
    with pytest.raises(InvalidRequestError, match=re.escape("k must be in [1, 100], got 0")):
        live_ks(0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trials", "0"], "trials must be in [1, 1000], got 0"),
        (["--suite", "sklearn:iris"], "--suite applies to --mode live only"),
        (["--mode", "replay"], "--mode must be pool, live, seeding or sequential"),
    ],
)
def test_seeding_mode_refuses_bad_flags(db: str, extra: list[str], message: str) -> None:
    args = ["evaluate", "--space", SPACE.name, "--mode", "seeding", "--db", db, *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
