"""Live-mode evaluation on a tiny store of real PMLB evaluations made by the runner's protocol."""

from __future__ import annotations

import shutil
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.benchmarks.faulty_learner import faulty
from tests.benchmarks.live_store import PROTOCOL, SETTINGS, TINY
from tests.factories import require_pmlb
from warmstart.benchmarks.kb._probes import measure_probes
from warmstart.benchmarks.live import (
    FLAML_METHODS,
    FLAML_SPACE_LIGHTGBM,
    LIVE_METHODS,
    SINGLE_CONFIG_METHODS,
    FlamlLightGBMEstimator,
    LiveEvaluation,
    LiveSettings,
    evaluate_live,
    flaml_lightgbm_params,
    flaml_missing_reason,
    flaml_space_configs,
    outside_space,
    regret_at,
    size_bucket,
    spread_over_families,
    write_live_report,
)
from warmstart.benchmarks.live import _evaluate as live_evaluate
from warmstart.benchmarks.live._evaluate import _Context, _evaluate_task, _Limit
from warmstart.benchmarks.probes import probe_scores
from warmstart.benchmarks.runner import Protocol
from warmstart.benchmarks.tasks import Suite, load_suite
from warmstart.metamodel.bundle import ModelBundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.evaluation import EvalSettings, evaluate_pool
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.recommend import Recommender
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import RecordStatus, TaskType
from warmstart.service.cli import app


@pytest.fixture(scope="module")
def result(db: str, suite: Suite) -> LiveEvaluation:
    with RecordStore.open(db) as store:
        return evaluate_live(store, suite, "lightgbm", FEATURE_VERSION, SETTINGS)


def _stored_scores(db: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    with RecordStore.open(db) as store:
        for r in store.get_records(RecordFilter()):
            if r.status is RecordStatus.OK and r.score is not None:
                out[r.task_id].append(r.score)
    return out


@pytest.mark.slow
def test_the_records_protocol_is_read_back_and_reproduces_stored_scores(
    result: LiveEvaluation,
) -> None:
    assert result.protocol == PROTOCOL
    assert result.cv_seed == 0
    assert "2-fold CV, rows capped at 300, seed 0" in result.protocol_note
    for task in result.tasks:
        # The default is stored for every task: re-evaluated live it scores the same.
        assert task.stored_gap is not None
        assert task.stored_gap < 1e-9


@pytest.mark.slow
def test_regret_is_normalised_over_stored_and_live_scores(result: LiveEvaluation, db: str) -> None:
    stored = _stored_scores(db)
    assert len(result.tasks) == 3
    for task in result.tasks:
        trained = [s for scores in task.config_scores.values() for s in scores]
        live = [s for s in trained if np.isfinite(s)]
        assert task.best == max(stored[task.task_id] + live)
        assert task.worst == min(stored[task.task_id] + live)
        assert task.new_best == (max(live) > max(stored[task.task_id]))
        span = task.best - task.worst
        for method in result.methods:
            assert 0.0 <= task.regret[method][1] <= 1.0
            expected = (task.best - task.scores[method]) / span
            assert task.regret[method][1] == pytest.approx(expected)
        assert task.regret["warmstart"][2] <= task.regret["warmstart"][1]
        assert task.regret["warmstart"][2] == pytest.approx(
            (task.best - max(task.warmstart_scores)) / span
        )


@pytest.mark.slow
def test_every_method_has_best_of_k_regret_in_the_unit_interval(result: LiveEvaluation) -> None:
    assert set(result.methods) >= {"greedy_portfolio", "nearest_neighbour"}
    for task in result.tasks:
        span = task.best - task.worst
        for method in result.methods:
            scores = task.config_scores[method]
            if method in SINGLE_CONFIG_METHODS:
                assert len(scores) == 1
                assert set(task.regret[method]) == {1}
                continue
            assert len(scores) == 2  # max(ks) configs, distinct
            assert set(task.regret[method]) == {1, 2}
            for k in (1, 2):
                assert 0.0 <= task.regret[method][k] <= 1.0
                assert task.regret[method][k] == pytest.approx((task.best - max(scores[:k])) / span)
        # A one-config method's regret at any k is its one config's.
        assert regret_at(task, "default", 2) == task.regret["default"][1]
    for method in result.methods:
        assert 0.0 <= result.mean_regret(method, 2) <= 1.0


def test_size_buckets_split_at_2k_and_20k_rows() -> None:
    assert [size_bucket(n) for n in (1, 2_000, 2_001, 20_000, 20_001)] == [
        "<= 2k",
        "<= 2k",
        "2k-20k",
        "2k-20k",
        "> 20k",
    ]


@pytest.fixture(scope="module")
def titanic_suite(tmp_path_factory: pytest.TempPathFactory) -> Suite:
    """The PMLB suite with titanic alone (same suite name, so the same task ids)."""
    folder = tmp_path_factory.mktemp("titanic")
    source = require_pmlb()
    shutil.copy(source / "titanic.tsv.gz", folder / "titanic.tsv.gz")
    lines = (source / "manifest.csv").read_text().splitlines()
    (folder / "manifest.csv").write_text(
        "\n".join([lines[0], *(x for x in lines if x.startswith("titanic,"))]) + "\n"
    )
    return load_suite(f"pmlb:{folder},name=pmlb")


@pytest.mark.slow
def test_uncapped_runs_at_the_real_size_and_reports_its_bucket(
    db: str, titanic_suite: Suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[int, int | None]] = []
    suggest = Recommender.suggest

    def spy(self: Recommender, *args: Any, **kwargs: Any) -> Any:
        asked.append((args[1], kwargs.get("train_rows")))
        return suggest(self, *args, **kwargs)

    monkeypatch.setattr(Recommender, "suggest", spy)
    settings = LiveSettings(ks=(1, 2), n_folds=3, row_cap=0, train=TINY)
    with RecordStore.open(db) as store:
        uncapped = evaluate_live(store, titanic_suite, "lightgbm", FEATURE_VERSION, settings)
        capped = evaluate_live(
            store, titanic_suite, "lightgbm", FEATURE_VERSION, replace(settings, row_cap=None)
        )
    (task,) = uncapped.tasks
    assert task.name == "pmlb/titanic"
    assert task.rows_used == 2201
    assert list(uncapped.by_bucket()) == ["2k-20k"]
    assert "2-fold CV, seed 0 (row cap set by the caller" in uncapped.protocol_note
    # Stored scores were measured on 300 rows: they take no part at the real size.
    assert task.n_stored == 0
    assert task.stored_gap is None
    assert not task.new_best
    for method in uncapped.methods:
        assert 0.0 <= regret_at(task, method, 2) <= 1.0
    # Capped as the records, the same task is small and its stored scores count.
    (small,) = capped.tasks
    assert small.rows_used == 300
    assert list(capped.by_bucket()) == ["<= 2k"]
    assert small.n_stored == 6
    # warmstart is asked for the size its suggestions are trained on, as a user would ask,
    # and once for each reported k.
    assert asked == [(1, 2201), (2, 2201), (1, 300), (2, 300)]
    text = write_live_report(uncapped, tmp_path).read_text()
    assert "## By data size" in text
    assert "| 2k-20k | 1 | warmstart (ours) |" in text


def test_flaml_space_configs_are_seeded_valid_and_bounded_by_the_rows() -> None:
    pytest.importorskip("flaml.automl.model")
    first = flaml_space_configs(TaskType.BINARY, 50, 4, 6, [0, 1])
    assert first == flaml_space_configs(TaskType.BINARY, 50, 4, 6, [0, 1])
    assert first != flaml_space_configs(TaskType.BINARY, 50, 4, 6, [0, 2])
    assert len(first) == 6
    assert len({config_hash(c) for c in first}) == 6
    for config in first:
        assert set(config) == {
            "n_estimators",
            "num_leaves",
            "min_child_samples",
            "learning_rate",
            "max_bin",
            "colsample_bytree",
            "reg_alpha",
            "reg_lambda",
        }
        # FLAML bounds rounds and leaves by the training rows (upper exclusive).
        assert 4 <= int(config["n_estimators"]) < 50
        assert 4 <= int(config["num_leaves"]) < 50
        assert config["max_bin"] in {2**b - 1 for b in range(3, 11)}
        model = FLAML_SPACE_LIGHTGBM.make_estimator(config, TaskType.BINARY, seed=0)
        params = model.named_steps["model"].get_params()
        assert params["n_estimators"] == config["n_estimators"]
        assert params["max_bin"] == config["max_bin"]
        assert params["random_state"] == 0


@pytest.mark.slow
def test_flaml_space_is_trained_best_of_k_and_seeded_per_task(result: LiveEvaluation) -> None:
    pytest.importorskip("flaml.automl.model")
    assert "flaml_space" in result.methods
    for task in result.tasks:
        assert len(task.config_scores["flaml_space"]) == 2
        assert all(np.isfinite(s) for s in task.config_scores["flaml_space"])
        assert 0.0 <= task.regret["flaml_space"][2] <= task.regret["flaml_space"][1] <= 1.0


@pytest.mark.slow
def test_folds_are_pool_modes_and_keep_families_whole(result: LiveEvaluation, db: str) -> None:
    with RecordStore.open(db) as store:
        pool = evaluate_pool(
            store, "lightgbm", FEATURE_VERSION, EvalSettings(ks=(1,), n_folds=3, train=TINY)
        )
    pool_fold = {t.task_id: t.fold for t in pool.tasks}
    for family in {t.family for t in pool.tasks}:
        assert len({t.fold for t in pool.tasks if t.family == family}) == 1
    for task in result.tasks:
        assert task.fold == pool_fold[task.task_id]
    # Three tasks are spread over three families.
    assert len({t.family for t in result.tasks}) == 3


def test_spread_over_families_covers_families_first_and_is_deterministic() -> None:
    families = {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "c1": "c", "c2": "c"}
    chosen = spread_over_families(sorted(families), families, 3, seed=0)
    assert {families[t] for t in chosen} == {"a", "b", "c"}
    assert chosen == spread_over_families(sorted(families), families, 3, seed=0)
    assert spread_over_families(sorted(families), families, None, seed=0) == sorted(families)


@pytest.mark.slow
def test_flaml_baseline_is_evaluated_when_flaml_is_installed(result: LiveEvaluation) -> None:
    pytest.importorskip("flaml.default")
    assert result.methods == LIVE_METHODS
    for task in result.tasks:
        assert "flaml_zeroshot" in task.regret
        assert task.flaml_params is not None
        assert task.errors == {}


@pytest.mark.slow
def test_flaml_hyperparameters_are_used_as_given_outside_our_space(suite: Suite) -> None:
    pytest.importorskip("flaml.default")
    data = suite.load("breast_cancer")
    X, y = data.X, np.unique(data.y.astype(str), return_inverse=True)[1]
    params = flaml_lightgbm_params(TaskType.BINARY, X, y)
    assert outside_space("lightgbm", params)  # e.g. num_leaves > 1024 or max_bin < 16
    fitted = FlamlLightGBMEstimator("binary", seed=0).fit(X, y)
    model = fitted.pipeline_.named_steps["model"].get_params()
    assert all(model[name] == value for name, value in params.items())
    assert model["n_jobs"] == 1
    assert model["random_state"] == 0
    assert fitted.predict_proba(X).shape == (len(y), 2)


@pytest.mark.slow
def test_without_flaml_the_baseline_is_skipped_with_a_message(
    db: str, suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "flaml", None)
    monkeypatch.setitem(sys.modules, "flaml.default", None)
    reason = flaml_missing_reason()
    assert reason is not None
    assert "pip install 'warmstart[evaluation]'" in reason
    settings = LiveSettings(ks=(1,), n_folds=3, max_tasks=1, train=TINY)
    with RecordStore.open(db) as store:
        lines: list[str] = []
        without = evaluate_live(store, suite, "lightgbm", FEATURE_VERSION, settings, lines.append)
    assert without.methods == (
        "warmstart",
        "default",
        "single_best",
        "greedy_portfolio",
        "nearest_neighbour",
    )
    assert reason in without.notes
    assert reason in lines
    assert "flaml_zeroshot" not in without.tasks[0].regret
    assert "flaml_space" not in without.tasks[0].regret


@pytest.mark.slow
def test_report_has_tables_plots_and_json(result: LiveEvaluation, tmp_path: Path) -> None:
    path = write_live_report(result, tmp_path, command="warmstart evaluate --mode live")
    text = path.read_text()
    assert "| FLAML zero-shot |" in text or "flaml_zeroshot" not in result.methods
    assert "| warmstart (ours), best of 2 |" in text
    assert "| greedy portfolio, best of 2 |" in text
    assert "| nearest-neighbour warm start, best of 2 |" in text
    assert "| FLAML's space, sampled, best of 2 |" in text
    assert "warmstart top-1 against library default:" in text
    assert "warmstart best of 2 against 2 configs sampled from FLAML's space" in text
    # The answers' first 5 (here the answer to 2) are kept per task and counted apart.
    for task in result.tasks:
        assert 1 <= len(task.top5) <= 2
    distinct = len({digest for task in result.tasks for digest in task.top5})
    assert (
        f"top-5 lists (its answers to a request for 5) hold {distinct} distinct configs over "
        f"{len(result.tasks)} tasks" in text
    )
    assert (
        "chooses its surrogate's leaf size and its set rule per k on inner family folds of "
        "its own training tasks" in text
    )
    # Each reported fold's bundle says how it chose its rules.
    assert len(result.set_rules) == len({t.fold for t in result.tasks})
    for fold, note in result.set_rules.items():
        assert f"- fold {fold}: k >= 1: " in text
        assert "inner family folds" in note or "too few families" in note
    assert "## By data size" in text
    assert "| <= 2k | 3 | warmstart (ours) |" in text
    assert "2-fold CV, rows capped at 300" in text
    assert (tmp_path / "lightgbm_live_regret.png").stat().st_size > 1000
    assert len(list(tmp_path.glob("lightgbm_live_vs_*.png"))) == 1
    assert (tmp_path / "lightgbm_live.json").is_file()


@pytest.mark.slow
def test_tasks_trained_in_worker_processes_give_the_same_results(
    result: LiveEvaluation, db: str, suite: Suite
) -> None:
    with RecordStore.open(db) as store:
        lines: list[str] = []
        parallel = evaluate_live(
            store, suite, "lightgbm", FEATURE_VERSION, replace(SETTINGS, workers=2), lines.append
        )
    assert [t.task_id for t in parallel.tasks] == [t.task_id for t in result.tasks]
    for ours, theirs in zip(parallel.tasks, result.tasks, strict=True):
        assert ours.config_scores == theirs.config_scores
        assert ours.regret == theirs.regret
    assert sum(line.startswith("trained ") for line in lines) == len(result.tasks)


def test_bad_settings_are_refused() -> None:
    bad_settings = (
        LiveSettings(ks=(2,)),
        LiveSettings(n_folds=1),
        LiveSettings(max_tasks=0),
        LiveSettings(workers=0),
        LiveSettings(min_rows=0),
        LiveSettings(max_rows=-5),
        LiveSettings(min_rows=500, max_rows=100),
    )
    for bad in bad_settings:
        with pytest.raises(InvalidRequestError):
            bad.check()


@pytest.mark.slow
def test_min_and_max_rows_choose_the_held_out_tasks_by_size(db: str, suite: Suite) -> None:
    with RecordStore.open(db) as store:
        rows = {t.task_id: t.n_rows for t in store.list_tasks()}
        middle = sorted(rows.values())[len(rows) // 2]
        settings = replace(SETTINGS, max_tasks=2, min_rows=middle)
        large = evaluate_live(store, suite, "lightgbm", FEATURE_VERSION, settings)
        assert large.tasks
        assert all(rows[t.task_id] >= middle for t in large.tasks)
        with pytest.raises(FailedPreconditionError, match="has between 1 and 1 rows"):
            evaluate_live(store, suite, "lightgbm", FEATURE_VERSION, replace(SETTINGS, max_rows=1))


@pytest.mark.parametrize("limit", [0, 0.0, -1.0, float("nan")])
def test_a_time_limit_must_be_positive_seconds(limit: float) -> None:
    with pytest.raises(InvalidRequestError, match=r"time_limit must be a number of seconds > 0"):
        LiveSettings(time_limit=limit).check()
    LiveSettings(time_limit=0.5).check()


def test_a_time_limit_needs_the_suites_spec() -> None:
    store: Any = object()  # refused before the store is read
    suite = load_suite("sklearn:iris")
    settings = LiveSettings(time_limit=60)
    with pytest.raises(InvalidRequestError, match="needs the suite's spec string"):
        evaluate_live(store, suite, "lightgbm", FEATURE_VERSION, settings)


@pytest.mark.slow
def test_configs_under_a_generous_time_limit_score_as_in_process(
    result: LiveEvaluation, db: str, suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    stated: list[float | None] = []
    suggest = Recommender.suggest

    def spy(self: Recommender, *args: Any, **kwargs: Any) -> Any:
        stated.append(kwargs.get("max_fit_seconds"))
        return suggest(self, *args, **kwargs)

    monkeypatch.setattr(Recommender, "suggest", spy)
    lines: list[str] = []
    limited = replace(SETTINGS, time_limit=600)
    with RecordStore.open(db) as store:
        in_workers = evaluate_live(
            store, suite, "lightgbm", FEATURE_VERSION, limited, lines.append,
            suite_spec=f"pmlb:{require_pmlb()}",
        )  # fmt: skip
    assert [t.task_id for t in in_workers.tasks] == [t.task_id for t in result.tasks]
    for ours, theirs in zip(in_workers.tasks, result.tasks, strict=True):
        assert ours.config_scores == theirs.config_scores
        assert ours.regret == theirs.regret
        assert ours.errors == theirs.errors
        assert ours.timeouts == 0
    assert any(line.endswith("at most 600 s per config") for line in lines)
    # The requests state the limit's share of one fit (over the records' CV folds plus one,
    # for the rest of each fold's evaluation), which every suggestion here fits, so the
    # answers are those asked without it.
    assert in_workers.protocol.folds == 2
    assert set(stated) == {600 / 3}


@pytest.mark.slow
def test_configs_past_a_tiny_time_limit_fail_and_the_run_completes(
    db: str, suite: Suite, tmp_path: Path
) -> None:
    settings = LiveSettings(ks=(1,), n_folds=3, max_tasks=1, train=TINY, time_limit=0.001)
    with RecordStore.open(db) as store:
        limited = evaluate_live(
            store, suite, "lightgbm", FEATURE_VERSION, settings,
            suite_spec=f"pmlb:{require_pmlb()}",
        )  # fmt: skip
    (task,) = limited.tasks
    trained = {s for scores in task.config_scores.values() for s in scores}
    assert all(np.isnan(s) for s in trained)
    # Every method's configs failed (labels are "method" or "method#i").
    assert {label.split("#")[0] for label in task.errors} == set(limited.methods)
    for error in task.errors.values():
        assert "evaluation exceeded the time limit of 0.001 s" in error
    assert task.timeouts >= 1
    # A failed evaluation counts as the worst of the stored scores.
    assert task.n_stored > 0
    assert all(task.regret[m][1] == 1.0 for m in limited.methods)
    # No candidate is predicted to fit in the limit's share: asked again without it, noted.
    assert any("asked again without the fit-time limit" in note for note in limited.notes)
    text = write_live_report(limited, tmp_path).read_text()
    assert "limited to 0.001 s of wall time" in text
    assert f"counted as failed (the worst): {task.timeouts} on 1 tasks." in text


@pytest.mark.slow
def test_a_config_past_the_limit_fails_and_the_next_runs_in_a_fresh_worker() -> None:
    iris = load_suite("sklearn:iris").load("iris")
    context = _Context(
        learner=faulty,
        learner_spec="tests.benchmarks.faulty_learner:faulty",  # the worker imports it
        space_id="faulty-space",
        protocol=Protocol(folds=2, row_cap=None),
        seed=0,
        ks=(1,),
        with_flaml=False,
        fold_seed=0,
        limit=_Limit(3.0, "sklearn:iris"),
    )
    configs = {"method": [{"mode": "sleep"}, {"mode": "ok"}, {"mode": "raise"}]}
    trained = _evaluate_task(context, iris, "iris", configs, [])
    sleep, ok, raised = (trained.outcomes[key] for key in trained.orders["method"])
    assert np.isnan(sleep.score)
    assert sleep.timed_out
    assert sleep.error is not None
    assert "exceeded the time limit of 3 s" in sleep.error
    assert np.isfinite(ok.score)
    assert ok.error is None
    assert np.isnan(raised.score)
    assert not raised.timed_out
    assert raised.error is not None
    assert "deliberate failure for the test" in raised.error


runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "live"], "--mode live needs --suite"),
        (["--mode", "replay"], "--mode must be pool, live, seeding or sequential, got 'replay'"),
        (["--tasks", "3"], "--tasks applies to --mode live only"),
        (["--suite", "sklearn:iris", "--k", "2"], "--suite, --k apply to --mode live only"),
        (["--mode", "live", "--suite", "sklearn:iris", "--k", "0"], "k must be in [1, 100], got 0"),
        (["--mode", "live", "--suite", "sklearn:iris", "--tasks", "0"], "max_tasks must be >= 1"),
        (["--workers", "2"], "--workers applies to --mode live only"),
        (["--mode", "live", "--suite", "sklearn:iris", "--workers", "0"], "workers must be >= 1"),
        (["--time-limit", "60"], "--time-limit applies to --mode live only"),
        (["--min-rows", "2001"], "--min-rows applies to --mode live only"),
        (["--mode", "seeding", "--time-limit", "60"], "--time-limit applies to --mode live only"),
        (["--checkpoint", "ck"], "--checkpoint applies to --mode live only"),
        (["--mode", "seeding", "--probes", "2"], "--probes applies to --mode pool and live only"),
        (["--probes", "-1"], "--probes must be an integer >= 0, got -1"),
        (["--mode", "seeding", "--checkpoint", "ck"], "--checkpoint applies to --mode live only"),
        (["--fresh"], "--fresh applies to --mode live only"),
        (
            ["--mode", "live", "--suite", "sklearn:iris", "--fresh"],
            "--fresh discards a checkpoint: give it with --checkpoint DIR",
        ),
        (
            ["--mode", "live", "--suite", "sklearn:iris", "--time-limit", "0"],
            "time_limit must be a number of seconds > 0",
        ),
    ],
)
def test_cli_refuses_bad_input_clearly(args: list[str], message: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    outcome = runner.invoke(app, ["evaluate", "--space", "lightgbm", "--db", db, *args])
    assert outcome.exit_code == 2, outcome.output
    assert message in outcome.output
    assert not (tmp_path / "none.db").exists()


@pytest.mark.slow
def test_live_mode_trains_the_bundles_probes_on_each_held_out_task(
    db: str, suite: Suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "probed.db"
    shutil.copy(db.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    spec = f"pmlb:{require_pmlb()}"
    with RecordStore.open(url) as store:
        space = store.find_space("lightgbm")
        tasks = {r.task_id for r in store.get_records(RecordFilter(space_id=space.space_id))}
        assert measure_probes(store, space, 3, [(spec, suite)], tasks, 1, lambda _: None) == 9
    calls: list[tuple[str, int]] = []

    def spy(data: Any, learner: Any, space_id: str, configs: list[Any]) -> list[float]:
        calls.append((data.task.task_id, len(configs)))
        return probe_scores(data, learner, space_id, configs)

    monkeypatch.setattr(live_evaluate, "probe_scores", spy)
    # No inner folds: the bundles keep their probes but serve expected_best, which reads none.
    settings = replace(SETTINGS, train=replace(TINY, probes=2, validation_folds=0))
    with RecordStore.open(url) as store:
        evaluate_live(store, suite, "lightgbm", FEATURE_VERSION, settings)
    assert calls == []  # read at no k: none is run
    monkeypatch.setattr(ModelBundle, "reads_probes", property(lambda _: True))
    with RecordStore.open(url) as store:
        probed = evaluate_live(store, suite, "lightgbm", FEATURE_VERSION, settings)
    held_out = [t.task_id for t in probed.tasks]
    assert len(held_out) == 3
    assert sorted(calls) == sorted((t, 2) for t in held_out)  # the bundle's 2, once a task


@pytest.mark.slow
def test_cli_live_mode_prints_the_comparison_and_writes_the_report(db: str, tmp_path: Path) -> None:
    args = [
        "evaluate",
        "--space",
        "lightgbm",
        "--mode",
        "live",
        "--suite",
        f"pmlb:{require_pmlb()}",
    ]
    args += ["--tasks", "1", "--k", "2", "--folds", "3", "--n-models", "2", "--n-estimators", "50"]
    outcome = runner.invoke(app, [*args, "--db", db, "--out", str(tmp_path)])
    assert outcome.exit_code == 0, outcome.output
    assert "live mode, 1 held-out tasks" in outcome.output
    with_flaml = flaml_missing_reason() is None
    for method in LIVE_METHODS:
        assert (method in outcome.output) == (with_flaml or method not in FLAML_METHODS)
    assert "by size bucket of the rows used" in outcome.output
    assert "warmstart top-1 against default:" in outcome.output
    assert "distinct configs in warmstart's top-5 lists:" in outcome.output
    ratio = "warmstart best-of-2 regret / flaml_space best-of-2:"
    assert (ratio in outcome.output) == with_flaml
    assert "protocol: 2-fold CV, rows capped at 300, seed 0" in outcome.output
    assert (tmp_path / "lightgbm_live.md").is_file()


@pytest.mark.slow
def test_cli_pool_mode_is_unchanged_by_default(db: str, tmp_path: Path) -> None:
    args = ["evaluate", "--space", "lightgbm", "--folds", "3", "--n-models", "2"]
    outcome = runner.invoke(
        app, [*args, "--n-estimators", "50", "--db", db, "--out", str(tmp_path)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "lightgbm, pool mode" in outcome.output
    assert "9 held-out tasks; report:" in outcome.output
    assert (tmp_path / "lightgbm_pool.md").is_file()
    assert not (tmp_path / "lightgbm_live.md").exists()


def test_sequential_live_keeps_to_tasks_of_at_most_max_rows(db: str, suite: Suite) -> None:
    from warmstart.benchmarks.sequential import LiveOptions, SequentialSettings, run_sequential_live
    from warmstart.metamodel.errors import FailedPreconditionError

    settings = SequentialSettings(
        n_trials=3, k_seed=1, repeats=1, n_folds=3, arms=("warmstart", "random"), train=TINY
    )
    with RecordStore.open(db) as store:
        rows = {t.task_id: t.n_rows for t in store.list_tasks()}
        small = LiveOptions(max_rows=200)
        found = run_sequential_live(store, suite, "lightgbm", FEATURE_VERSION, settings, small)
        with pytest.raises(FailedPreconditionError, match="at most 100 rows"):
            run_sequential_live(
                store, suite, "lightgbm", FEATURE_VERSION, settings, LiveOptions(max_rows=100)
            )
    assert found.tasks
    assert all(rows[run.task_id] <= 200 for run in found.tasks)
    assert {run.name.split("/")[-1] for run in found.tasks} <= {"iris", "glass2"}
    with pytest.raises(InvalidRequestError, match="max_rows"):
        LiveOptions(max_rows=0).check()


def test_the_fold_note_names_the_rules_served_to_whole_tables() -> None:
    training = {
        "set_rules": {"1": "expected_best", "3": "portfolio"},
        "set_rules_full_size": {"1": "default_then_portfolio", "3": "portfolio"},
        "full_size_above_rows": 2000,
    }
    metrics = {"validation.folds": 3.0, "validation.tasks": 150.0, "surrogate.leaf_rows": 60.0}
    note = live_evaluate._set_rule_note(training, metrics | {"validation.full_size.tasks": 26.0})
    assert note == (
        "k >= 1: expected_best, k >= 3: portfolio, chosen on 3 inner family folds of 150 of its "
        "training tasks; leaves of 60 rows, chosen on the same folds; above 2,000 rows: "
        "k >= 1: default_then_portfolio, k >= 3: portfolio, chosen on 26 inner tasks' "
        "full-size pools"
    )
    plain = {k: v for k, v in training.items() if k == "set_rules"}
    assert "above" not in live_evaluate._set_rule_note(plain, metrics)
