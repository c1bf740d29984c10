"""The sequential evaluation: the ask/tell loop and the optimizers, on the synthetic world."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from tests.metamodel.synthetic_world import CS, FAST, world
from tests.metamodel.test_evaluation import _fill_store
from warmstart.benchmarks.learners import get_learner
from warmstart.benchmarks.sequential import (
    ARMS,
    SequentialSettings,
    cfo_search,
    lightgbm_start,
    run_sequential,
    warmstart_loop,
    write_sequential_report,
)
from warmstart.benchmarks.sequential._surrogate import SurrogateLoss
from warmstart.metamodel.bundle import TrainSettings
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.evaluation import TaskObjective, load_evaluation_data
from warmstart.metamodel.recommend import Recommendation
from warmstart.metamodel.spaces import config_hash, default_config, sample_configs, validate_config
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import ConfigValue, Observation

pytest.importorskip("optuna")
pytest.importorskip("flaml")

# One bundle per fold: the synthetic world's fast surrogate, no inner validation.
QUICK = TrainSettings(surrogate=FAST.surrogate, validation_folds=0)


def _loss(config: Mapping[str, ConfigValue]) -> float:
    """Best at log10(C) = 1 with the rbf kernel."""
    penalty = 0.0 if config["kernel"] == "rbf" else 0.5
    return float((np.log10(float(config["C"])) - 1.0) ** 2 / 16 + penalty)


class _Spy:
    """A recommender that records what each request told it and answers from a fixed list."""

    def __init__(self, answers: list[dict[str, ConfigValue]]) -> None:
        self.answers = answers
        self.seen: list[list[Observation]] = []

    def suggest(
        self,
        features: Mapping[str, float],
        k: int,
        *,
        max_fit_seconds: float | None = None,
        exclude: Iterable[Mapping[str, ConfigValue]] = (),
        train_rows: int | None = None,
        observations: Iterable[Observation] = (),
    ) -> Recommendation:
        told = list(observations)
        self.seen.append(told)
        tried = {config_hash(o.config) for o in told}
        fresh = [c for c in self.answers if config_hash(c) not in tried]
        return cast(
            Recommendation,
            SimpleNamespace(suggestions=[SimpleNamespace(config=c) for c in fresh[:k]]),
        )


def test_the_loop_tells_every_trial_and_passes_its_scores() -> None:
    answers = [
        validate_config(CS, {**default_config(CS), "C": 10.0 ** (i / 2 - 2), "kernel": "rbf"})
        for i in range(8)
    ]
    spy = _Spy(answers)
    configs, losses = warmstart_loop(spy, {"f0": 0.5}, _loss, 6)
    assert [len(told) for told in spy.seen] == [0, 1, 2, 3, 4, 5]
    last = spy.seen[-1]
    assert [config_hash(o.config) for o in last] == [config_hash(c) for c in configs[:5]]
    # Scores are the negated losses: higher is better, as records store them.
    assert [o.score for o in last] == pytest.approx([-v for v in losses[:5]])


def test_the_loop_with_a_real_recommender_never_repeats_a_config(tmp_path: Path) -> None:
    with RecordStore.open(f"sqlite:///{tmp_path / 'loop.db'}") as store:
        _fill_store(store, 20)
        data = load_evaluation_data(store, "svm_like", "test-1", 5, 0)
    held_out = sorted(t for t, f in data.fold_of.items() if f == 0)[0]
    recommender = data.train(data.training_records(0), "test-1", QUICK).recommender()
    objective = TaskObjective(CS, data.usable[held_out])
    features = data.features[held_out].as_dict()
    configs, _ = warmstart_loop(recommender, features, objective.regret, 15)
    # Without the observations the recommender would answer its top-1 every time.
    assert len({config_hash(c) for c in configs}) == 15
    zero_shot = recommender.suggest(features, 1).suggestions[0].config
    assert config_hash(configs[0]) == config_hash(zero_shot)


def test_the_surrogate_loss_is_the_seeding_objectives_regret() -> None:
    _, records = world(1, seed=5)
    objective = TaskObjective(CS, records, seed=0)
    loss = SurrogateLoss(objective)
    for config in sample_configs(CS, 30, method="random", seed=2):
        assert loss(config) == pytest.approx(objective.regret(config), abs=1e-12)


def test_cfo_starts_from_its_start_and_stays_in_the_space() -> None:
    start = validate_config(CS, {**default_config(CS), "C": 0.01})
    configs, losses, fallbacks = cfo_search(CS, _loss, 25, seed=3, start=start)
    assert configs[0] == start
    assert len(losses) == 25
    assert fallbacks == 0
    for config in configs:
        validate_config(CS, config)
    assert min(losses) < losses[0]  # it moves downhill from a poor start


def test_flaml_start_is_clipped_into_the_lightgbm_space() -> None:
    space = get_learner("lightgbm").search_space()
    flaml = {
        "n_estimators": 4797,
        "num_leaves": 1208,
        "max_bin": 7,
        "learning_rate": 0.02,
        "colsample_bytree": 0.05,
        "reg_alpha": 0.003,
        "reg_lambda": 500.0,
    }
    config = lightgbm_start(space, flaml)
    assert (config["n_estimators"], config["num_leaves"]) == (2000, 1024)
    assert (config["max_bin"], config["colsample_bytree"]) == (16, 0.1)
    assert (config["use_reg_alpha"], config["reg_lambda"]) == (True, 100.0)
    assert config["learning_rate"] == pytest.approx(0.02)
    assert lightgbm_start(space, {}) == default_config(space)


def test_settings_are_checked() -> None:
    with pytest.raises(InvalidRequestError, match="arms must be"):
        SequentialSettings(arms=("warmstart", "smac")).check()
    with pytest.raises(InvalidRequestError, match="k_seed"):
        SequentialSettings(n_trials=5, k_seed=10).check()


def test_every_arm_runs_leave_family_out_and_the_report_is_written(tmp_path: Path) -> None:
    settings = SequentialSettings(n_trials=8, k_seed=3, repeats=2, max_tasks=1, train=QUICK)
    with RecordStore.open(f"sqlite:///{tmp_path / 'seq.db'}") as store:
        _fill_store(store, 20)
        result = run_sequential(store, "svm_like", "test-1", settings)
    assert len(result.tasks) == 1
    assert result.arms == ARMS
    for run in result.tasks:
        for arm in ARMS:
            curves = run.curves[arm]
            assert curves.shape == (2, 8)
            assert np.all(np.diff(curves, axis=1) <= 1e-12)  # best so far never worsens
            assert np.all((curves >= 0) & (curves <= 1))
        # TPE seeded starts with the loop's own first (zero-shot) answer.
        assert run.curves["tpe_seeded"][0, 0] == pytest.approx(run.curves["warmstart"][0, 0])
    assert result.stderr("random").shape == (8,)
    report = write_sequential_report(
        result, tmp_path / "out", command="warmstart ...", commit="abc"
    )
    assert "| warmstart ask/tell loop (k = 1 per trial) |" in report.read_text()
    summary = json.loads((tmp_path / "out" / "svm_like_sequential.json").read_text())
    assert summary["commit"] == "abc"
    assert len(summary["regret"]["warmstart"]["mean"]) == 8
    rows = (tmp_path / "out" / "svm_like_sequential_tasks.csv").read_text().splitlines()
    assert len(rows) == 1 + len(ARMS)  # one row per task and arm
    assert (tmp_path / "out" / "svm_like_sequential_regret.png").stat().st_size > 0


def test_the_cli_runs_the_sequential_mode_and_refuses_live_only_flags(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from warmstart.service.cli import app

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    with RecordStore.open(db) as store:
        _fill_store(store, 20)
    base = ["evaluate", "--space", "svm_like", "--mode", "sequential", "--db", db]
    base += ["--feature-version", "test-1", "--out", str(tmp_path / "out")]
    refused = CliRunner().invoke(app, [*base, "--no-flaml"])
    assert refused.exit_code != 0
    assert "--no-flaml applies to --mode live only" in refused.output
    surrogate_only = CliRunner().invoke(app, [*base, "--max-rows", "500"])
    assert surrogate_only.exit_code != 0
    assert "--max-rows apply to live training: give --suite" in surrogate_only.output
    small = ["--tasks", "1", "--trials", "4", "--k", "2", "--repeats", "1"]
    small += ["--n-models", "1", "--n-estimators", "20"]
    done = CliRunner().invoke(app, [*base, *small])
    assert done.exit_code == 0, done.output
    assert "tpe_seeded" in done.output
    summary = json.loads((tmp_path / "out" / "svm_like_sequential.json").read_text())
    assert summary["n_tasks"] == 1
    assert summary["command"].startswith("warmstart ")


def _small_cli_run(tmp_path: Path, trials: int = 3) -> tuple[str, list[str]]:
    """A store filled with the synthetic world, and the arguments of a small sequential run
    on it (one task, a one-member model)."""
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    with RecordStore.open(db) as store:
        _fill_store(store, 20)
    args = ["evaluate", "--space", "svm_like", "--mode", "sequential", "--db", db]
    args += ["--feature-version", "test-1", "--out", str(tmp_path / "out")]
    args += ["--tasks", "1", "--trials", str(trials), "--k", "2", "--repeats", "1"]
    return db, [*args, "--n-models", "1", "--n-estimators", "20"]


def test_per_fold_recommender_settings_are_read_checked_and_reported(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from warmstart.benchmarks.sequential import load_recommender_by_fold
    from warmstart.metamodel.recommend import RecommenderSettings
    from warmstart.service.cli import app

    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"0": {"observed_from": 10}, "2": {}}))
    assert load_recommender_by_fold(plain) == {
        0: RecommenderSettings(observed_from=10),
        2: RecommenderSettings(),
    }
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"summary": {}, "settings_by_fold": {"1": {"observed_from": 20}}}))
    assert load_recommender_by_fold(study) == {1: RecommenderSettings(observed_from=20)}
    bad = {
        "[1, 2]": "mapping folds to settings",
        '{"x": {}}': "fold 'x' is not an integer",
        '{"0": {"observed_frm": 3}}': "unknown settings observed_frm; the settings are n_samples",
        '{"0": {"observed_from": 1}}': "fold 0: `observed_from` must be an integer >= 2",
        "{not json": "cannot read recommender settings",
    }
    for text, message in bad.items():
        plain.write_text(text)
        with pytest.raises(InvalidRequestError, match=re.escape(message)):
            load_recommender_by_fold(plain)
    with pytest.raises(InvalidRequestError, match=r"folds \[7\], but the folds are 0 to 4"):
        SequentialSettings(recommender_by_fold={7: RecommenderSettings()}).check()

    _, args = _small_cli_run(tmp_path, trials=4)
    plain.write_text(json.dumps({str(f): {"observed_from": 3} for f in range(5)}))
    done = CliRunner().invoke(app, [*args, "--recommender-settings", str(plain)])
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "out" / "svm_like_sequential.json").read_text())
    chosen = summary["settings"]["recommender_by_fold"]
    assert chosen == {str(f): {"observed_from": 3} for f in range(5)}
    report = (tmp_path / "out" / "svm_like_sequential.md").read_text()
    assert "- fold 0: observed_from=3" in report


def test_settings_chosen_on_another_split_of_the_folds_are_refused(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from warmstart.benchmarks.sequential import fold_digests, load_fold_split
    from warmstart.service.cli import app

    db, args = _small_cli_run(tmp_path)
    with RecordStore.open(db) as store:
        data = load_evaluation_data(store, "svm_like", "test-1", 5, 0)
    now = fold_digests(data.fold_of)
    assert sorted(now) == [0, 1, 2, 3, 4]
    assert fold_digests(dict(reversed(list(data.fold_of.items())))) == now  # order-free
    settings = {str(f): {"observed_from": 3} for f in range(5)}
    path = tmp_path / "settings.json"
    args += ["--recommender-settings", str(path)]

    # Chosen on this split: it runs.
    path.write_text(json.dumps({"settings_by_fold": settings, "split": now}))
    assert load_fold_split(path) == now
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output

    # One task in another fold (the records changed since): every fold that moved is named.
    moved = dict(data.fold_of)
    task = next(t for t, f in moved.items() if f == 0)
    moved[task] = 1
    path.write_text(json.dumps({"settings_by_fold": settings, "split": fold_digests(moved)}))
    done = CliRunner().invoke(app, args)
    assert done.exit_code != 0
    assert "settings of folds [0, 1] were chosen on another split" in done.output
    assert "choose them again on the current records" in done.output

    # A hand-written file records no split and is not checked; a malformed split is refused.
    path.write_text(json.dumps({"split": ["0", "abc"]}))
    with pytest.raises(InvalidRequestError, match="`split` must map folds to digests"):
        load_fold_split(path)
    path.write_text(json.dumps(settings))
    assert load_fold_split(path) == {}


def test_the_cli_runs_only_the_arms_asked_for(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from warmstart.service.cli import app

    db, args = _small_cli_run(tmp_path)
    done = CliRunner().invoke(app, [*args, "--arms", "warmstart, random"])
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "out" / "svm_like_sequential.json").read_text())
    assert set(summary["regret"]) == {"warmstart", "random"}
    assert summary["targets"] == {}  # neither target's two arms ran

    refused = {
        ("--arms", "warmstart,smac"): "arms must be distinct names among warmstart",
        ("--arms", "random,random"): "arms must be distinct names",
    }
    for extra, message in refused.items():
        done = CliRunner().invoke(app, [*args, *extra])
        assert done.exit_code != 0
        assert message in done.output
    pool = ["evaluate", "--space", "svm_like", "--db", db, "--arms", "random"]
    done = CliRunner().invoke(app, pool)
    assert done.exit_code != 0
    assert "--arms applies to --mode sequential only" in done.output
