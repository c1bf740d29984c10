"""Live-mode evaluation on a tiny store of real PMLB evaluations made by the runner's protocol."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmarks.learners import get_learner
from benchmarks.live import (
    FlamlLightGBMEstimator,
    LiveEvaluation,
    LiveSettings,
    evaluate_live,
    flaml_lightgbm_params,
    flaml_missing_reason,
    outside_space,
    spread_over_families,
    write_live_report,
)
from benchmarks.runner import Job, Protocol, evaluate, to_record
from benchmarks.tasks import Suite, load_suite
from metamodel.bundle import TrainSettings
from metamodel.errors import InvalidRequestError
from metamodel.evaluation import EvalSettings, evaluate_pool
from metamodel.features import FEATURE_VERSION, describe_task
from metamodel.spaces import config_hash, make_search_space, sample_configs
from metamodel.store import RecordFilter, RecordStore
from metamodel.surrogate import SurrogateParams
from metamodel.types import RecordStatus, TaskType
from service.cli import app
from tests.factories import require_pmlb

# Eight small tasks in seven families (breast_cancer and wdbc share "breast"),
# binary, multiclass and regression; three of them have more rows than the cap.
TASKS = (
    "iris",
    "haberman",
    "breast_cancer",
    "wdbc",
    "glass2",
    "prnn_fglass",
    "1027_ESL",
    "519_vinnie",
)
PROTOCOL = Protocol(folds=2, row_cap=300)
TINY = TrainSettings(surrogate=SurrogateParams(n_models=2, n_estimators=50, min_child_samples=5))
SETTINGS = LiveSettings(ks=(1, 2), n_folds=3, max_tasks=3, train=TINY)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_suite(f"pmlb:{require_pmlb()}")


@pytest.fixture(scope="module")
def db(suite: Suite, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of LightGBM evaluations (default + 5 cheap Sobol configs) with meta-features."""
    learner = get_learner("lightgbm")
    space_cs = learner.search_space()
    space = make_search_space(learner.name, space_cs)
    sampled = sample_configs(space_cs, 5, method="sobol", seed=1)
    configs = [learner.default_config()]
    configs += [dict(c, n_estimators=min(int(c["n_estimators"]), 60)) for c in sampled]
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
    with RecordStore.open(url) as store:
        tasks, features, records = [], [], []
        for name in TASKS:
            data = suite.load(name)
            tasks.append(data.task)
            features.append(describe_task(data.task.task_id, data.X, data.y, data.task.task_type))
            for config in configs:
                job = Job(
                    "pmlb", name, data.task.task_id, learner.name, space.space_id,
                    config, config_hash(config), 0, PROTOCOL,
                )  # fmt: skip
                records.append(to_record(evaluate(job, data, learner)))
        store.add_all(tasks=tasks, spaces=[space], records=records)
        store.put_task_features(features)
    return url


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
        live = [s for s in (*task.scores.values(), *task.warmstart_scores) if np.isfinite(s)]
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
    assert result.methods == ("warmstart", "default", "single_best", "flaml_zeroshot")
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
    assert without.methods == ("warmstart", "default", "single_best")
    assert reason in without.notes
    assert reason in lines
    assert "flaml_zeroshot" not in without.tasks[0].regret


@pytest.mark.slow
def test_report_has_tables_plots_and_json(result: LiveEvaluation, tmp_path: Path) -> None:
    path = write_live_report(result, tmp_path, command="warmstart evaluate --mode live")
    text = path.read_text()
    assert "| FLAML zero-shot |" in text or "flaml_zeroshot" not in result.methods
    assert "| warmstart (ours), best of 2 |" in text
    assert "2-fold CV, rows capped at 300" in text
    assert (tmp_path / "lightgbm_live_regret.png").stat().st_size > 1000
    assert len(list(tmp_path.glob("lightgbm_live_vs_*.png"))) == 1
    assert (tmp_path / "lightgbm_live.json").is_file()


def test_bad_settings_are_refused() -> None:
    for bad in (LiveSettings(ks=(2,)), LiveSettings(n_folds=1), LiveSettings(max_tasks=0)):
        with pytest.raises(InvalidRequestError):
            bad.check()


runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "live"], "--mode live needs --suite"),
        (["--mode", "replay"], "--mode must be pool, live or seeding, got 'replay'"),
        (["--tasks", "3"], "--tasks applies to --mode live only"),
        (["--suite", "sklearn:iris", "--k", "2"], "--suite, --k apply to --mode live only"),
        (["--mode", "live", "--suite", "sklearn:iris", "--k", "0"], "--k must be in [1, 100]"),
        (["--mode", "live", "--suite", "sklearn:iris", "--tasks", "0"], "max_tasks must be >= 1"),
    ],
)
def test_cli_refuses_bad_input_clearly(args: list[str], message: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    outcome = runner.invoke(app, ["evaluate", "--space", "lightgbm", "--db", db, *args])
    assert outcome.exit_code == 2, outcome.output
    assert message in outcome.output
    assert not (tmp_path / "none.db").exists()


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
    assert "warmstart best-of-2" in outcome.output
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
    assert "8 held-out tasks; report:" in outcome.output
    assert (tmp_path / "lightgbm_pool.md").is_file()
    assert not (tmp_path / "lightgbm_live.md").exists()
