"""Live mode's checkpoint: each held-out task's result kept as it lands, and resumed from.

On the tiny store of real PMLB evaluations the other live tests use
(:mod:`tests.benchmarks.live_store`).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.benchmarks.live_store import SETTINGS
from tests.factories import require_pmlb
from warmstart.benchmarks.live import LiveEvaluation, LiveSettings, LiveTaskResult, evaluate_live
from warmstart.benchmarks.live import _evaluate as live_evaluate
from warmstart.benchmarks.live._checkpoint import MANIFEST, LiveCheckpoint, live_fingerprint
from warmstart.benchmarks.live._report import write_live_report
from warmstart.benchmarks.tasks import Suite
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.evaluation import EvaluationData
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import SearchSpace
from warmstart.service.cli import app


def _run(db: str, suite: Suite, checkpoint: Path, settings: LiveSettings = SETTINGS, **kw: Any):
    with RecordStore.open(db) as store:
        return evaluate_live(
            store, suite, "lightgbm", FEATURE_VERSION, settings, checkpoint=checkpoint, **kw
        )


@pytest.fixture(scope="module")
def reference(
    db: str, suite: Suite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LiveEvaluation, Path]:
    """An uninterrupted run with a checkpoint, and its checkpoint folder (not to be changed)."""
    folder = tmp_path_factory.mktemp("reference") / "checkpoint"
    return _run(db, suite, folder), folder


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "checkpoint"
    shutil.copytree(folder, target)
    return target


def _task_files(folder: Path) -> list[Path]:
    return sorted((folder / "tasks").glob("*.json"))


def _comparable(result: LiveEvaluation) -> dict[str, Any]:
    """Everything a run reports but the wall times (a resumed task was timed again)."""
    return {
        "tasks": [replace(t, seconds=0.0).to_dict() for t in result.tasks],
        "set_rules": result.set_rules,
        "notes": result.notes,
        "methods": result.methods,
        "protocol": (result.protocol, result.cv_seed, result.protocol_note),
    }


def _same_report(ours: LiveEvaluation, theirs: LiveEvaluation, tmp_path: Path) -> None:
    texts = []
    for name, result in (("ours", ours), ("theirs", theirs)):
        untimed = replace(result, tasks=[replace(t, seconds=0.0) for t in result.tasks])
        texts.append(write_live_report(untimed, tmp_path / name).read_text())
    assert texts[0] == texts[1]


class _Counting:
    """Spies on the tasks trained and the folds' bundles trained."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, interrupt_at: int | None = None) -> None:
        self.tasks: list[str] = []
        self.bundles = 0
        task_result, train = live_evaluate._task_result, EvaluationData.train

        def counted_task(*args: Any) -> LiveTaskResult:
            if interrupt_at is not None and len(self.tasks) + 1 == interrupt_at:
                raise KeyboardInterrupt  # as Ctrl-C in the middle of the task
            result = task_result(*args)
            self.tasks.append(result.task_id)
            return result

        def counted_train(data: EvaluationData, *args: Any) -> Any:
            self.bundles += 1
            return train(data, *args)

        monkeypatch.setattr(live_evaluate, "_task_result", counted_task)
        monkeypatch.setattr(EvaluationData, "train", counted_train)


def test_a_task_result_round_trips_exactly_through_json() -> None:
    nan, inf = float("nan"), float("inf")
    result = LiveTaskResult(
        task_id="t1",
        name="pmlb/iris",
        family="iris",
        fold=2,
        task_type="multiclass",
        rows_used=150,
        scores={"warmstart": 0.1 + 0.2, "default": nan},
        warmstart_scores=(0.1 + 0.2, -inf, 1e-300),
        config_scores={"warmstart": (0.1 + 0.2, -inf, 1e-300), "default": (nan,)},
        regret={"warmstart": {1: 0.0, 3: 1 / 3}, "default": {1: inf}},
        best=0.987654321012345,
        worst=-1e6,
        n_stored=6,
        new_best=True,
        stored_gap=None,
        flaml_params={
            "n_estimators": 4,
            "learning_rate": 0.1,
            "subsample": 1.0,
            "boosting": "gbdt",
            "extra_trees": False,
            "odd": [1, 2.5, "x", None, nan],
            "nested": {"limit": -inf},
        },
        errors={"default": "deliberate failure"},
        seconds=12.345678901234567,
        timeouts=1,
        top5=("a1b2", "c3d4"),
    )
    text = json.dumps(result.to_dict(), allow_nan=False)  # strict JSON: no NaN tokens
    back = LiveTaskResult.from_dict(json.loads(text))
    assert back.to_dict() == result.to_dict()
    assert back.top5 == ("a1b2", "c3d4")
    older = json.loads(text)  # a checkpoint written before the top-5 lists were kept
    del older["top5"]
    assert LiveTaskResult.from_dict(older).top5 == ()
    assert back.scores["warmstart"] == 0.1 + 0.2
    assert math.isnan(back.scores["default"])
    assert back.warmstart_scores[1] == -inf
    assert back.regret == {"warmstart": {1: 0.0, 3: 1 / 3}, "default": {1: inf}}
    assert back.seconds == result.seconds
    params = back.flaml_params
    assert params is not None
    for key in ("n_estimators", "learning_rate", "subsample", "boosting", "extra_trees"):
        assert type(params[key]) is type(result.flaml_params[key])  # type: ignore[index]
        assert params[key] == result.flaml_params[key]  # type: ignore[index]
    assert params["nested"] == {"limit": -inf}
    assert math.isnan(params["odd"][4])
    assert replace(back, scores={}, config_scores={}, warmstart_scores=(), flaml_params=None) == (
        replace(result, scores={}, config_scores={}, warmstart_scores=(), flaml_params=None)
    )
    broken = dict(result.to_dict(), fold="2")
    with pytest.raises(InvalidRequestError, match="fold must be of type int"):
        LiveTaskResult.from_dict(broken)


@pytest.mark.slow
def test_a_checkpoint_holds_one_file_per_held_out_task(
    reference: tuple[LiveEvaluation, Path],
) -> None:
    result, folder = reference
    files = _task_files(folder)
    assert len(files) == len(result.tasks) == 3
    by_id = {t.task_id: t for t in result.tasks}
    for path in files:
        kept = LiveTaskResult.from_dict(json.loads(path.read_text())["result"])
        assert kept.to_dict() == by_id[kept.task_id].to_dict()
    assert (folder / MANIFEST).is_file()
    assert len(list((folder / "folds").glob("*.json"))) == len(result.set_rules)
    assert not list(folder.rglob("*.partial"))


@pytest.mark.slow
def test_an_interrupted_run_resumes_training_only_the_missing_tasks(
    reference: tuple[LiveEvaluation, Path],
    db: str,
    suite: Suite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected, _ = reference
    folder = tmp_path / "checkpoint"
    with monkeypatch.context() as patched:
        interrupted = _Counting(patched, interrupt_at=2)
        with pytest.raises(KeyboardInterrupt):
            _run(db, suite, folder)
    assert len(interrupted.tasks) == 1
    assert len(_task_files(folder)) == 1  # the first task was kept as it finished

    with monkeypatch.context() as patched:
        resumed_run = _Counting(patched)
        lines: list[str] = []
        resumed = _run(db, suite, folder, progress=lines.append)
    missing = [t.task_id for t in expected.tasks if t.task_id not in interrupted.tasks]
    assert resumed_run.tasks == missing
    # A fold whose held-out tasks were all done trains no bundle.
    assert resumed_run.bundles == len({t.fold for t in expected.tasks if t.task_id in missing})
    assert any("1 of 3 held-out tasks already done" in line for line in lines)
    assert _comparable(resumed) == _comparable(expected)
    _same_report(resumed, expected, tmp_path / "reports")
    assert len(_task_files(folder)) == 3

    # Run again on the finished checkpoint: nothing is trained, not even a bundle.
    with monkeypatch.context() as patched:
        again_run = _Counting(patched)
        again = _run(db, suite, folder)
    assert again_run.tasks == []
    assert again_run.bundles == 0
    assert [t.to_dict() for t in again.tasks] == [t.to_dict() for t in resumed.tasks]


@pytest.mark.slow
def test_tasks_trained_in_worker_processes_are_kept_and_resumed_alike(
    reference: tuple[LiveEvaluation, Path], db: str, suite: Suite, tmp_path: Path
) -> None:
    expected, source = reference
    folder = _copy(source, tmp_path)
    removed = _task_files(folder)[1]
    removed.unlink()
    lines: list[str] = []
    # Workers take no part in the fingerprint: the results are the same with 1 or 2.
    resumed = _run(db, suite, folder, replace(SETTINGS, workers=2), progress=lines.append)
    assert sum(line.startswith("trained ") for line in lines) == 1
    assert removed.is_file()  # written by the process pool's path
    assert _comparable(resumed) == _comparable(expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changed", "named"),
    [
        (replace(SETTINGS, max_tasks=2), "max_tasks was 3, now 2"),
        (replace(SETTINGS, ks=(1, 3)), "ks was [1, 2], now [1, 3]"),
        (
            replace(
                SETTINGS,
                train=replace(
                    SETTINGS.train,
                    surrogate=replace(SETTINGS.train.surrogate, n_estimators=40),
                ),
            ),
            "train.surrogate.n_estimators was 50, now 40",
        ),
    ],
)
def test_resuming_with_other_settings_is_refused_naming_them(
    reference: tuple[LiveEvaluation, Path],
    db: str,
    suite: Suite,
    tmp_path: Path,
    changed: LiveSettings,
    named: str,
) -> None:
    folder = _copy(reference[1], tmp_path)
    with pytest.raises(FailedPreconditionError) as refused:
        _run(db, suite, folder, changed)
    message = str(refused.value)
    assert named in message
    assert "another checkpoint folder" in message
    assert "--fresh" in message
    assert len(_task_files(folder)) == 3  # nothing was touched


def _edited(change: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    """A damage that edits the stored result's fields."""

    def damage(text: str) -> str:
        data = json.loads(text)
        change(data["result"])
        return json.dumps(data)

    return damage


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda text: text[: len(text) // 2], "cannot be read (Expecting"),
        (lambda text: "", "cannot be read (Expecting value"),
        (_edited(lambda r: r.update(fold="0")), "fold must be of type int"),
        (_edited(lambda r: r.pop("best")), "lacks fields ['best']"),
        (_edited(lambda r: r.update(top5=["a1b2", 7])), "top5 must be a list of strings"),
        (_edited(lambda r: r["regret"].update(default={"one": 0.5})), "keys must be integers"),
        (_edited(lambda r: r.update(task_id="another")), "another task's file"),
    ],
)
def test_a_corrupt_checkpoint_file_is_refused_naming_it(
    reference: tuple[LiveEvaluation, Path],
    db: str,
    suite: Suite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: Callable[[str], str],
    why: str,
) -> None:
    folder = _copy(reference[1], tmp_path)
    broken = _task_files(folder)[0]
    broken.write_text(damage(broken.read_text()))
    spy = _Counting(monkeypatch)
    with pytest.raises(FailedPreconditionError, match=re.escape(str(broken))) as refused:
        _run(db, suite, folder)
    assert why in str(refused.value)
    assert spy.tasks == []
    assert spy.bundles == 0


@pytest.mark.slow
def test_a_corrupt_manifest_is_refused_naming_it(
    reference: tuple[LiveEvaluation, Path], db: str, suite: Suite, tmp_path: Path
) -> None:
    folder = _copy(reference[1], tmp_path)
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(FailedPreconditionError, match=re.escape(str(folder / MANIFEST))):
        _run(db, suite, folder)


def _fingerprint(settings: LiveSettings) -> dict[str, Any]:
    space = SearchSpace(space_id="s1", name="lightgbm", definition="{}")
    return live_fingerprint(
        space=space,
        feature_version="mf-1",
        settings=settings,
        methods=("warmstart", "default"),
        records="0123",
        suite="pmlb: 9 tasks",
        held_out=["a", "b"],
    )


def test_workers_are_not_in_the_fingerprint_and_every_result_setting_is() -> None:
    assert _fingerprint(replace(SETTINGS, workers=4)) == _fingerprint(SETTINGS)
    changes: list[tuple[str, Any]] = [
        ("seed", 1),
        ("min_rows", 10),
        ("max_rows", 10),
        ("cv_folds", 4),
        ("row_cap", 0),
        ("cv_seed", 3),
        ("time_limit", 60.0),
        ("flaml", False),
        ("n_folds", 4),
    ]
    for field, value in changes:
        assert _fingerprint(replace(SETTINGS, **{field: value})) != _fingerprint(SETTINGS), field


def test_fresh_discards_a_checkpoint_of_another_evaluation(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    kept = LiveCheckpoint.open(folder, _fingerprint(SETTINGS), {"a": 0})
    kept.save_skipped("a", "a skipped: for the test")
    kept.save_set_rule(0, "k >= 1: expected_best")
    (folder / "notes.txt").write_text("not the checkpoint's")
    other = _fingerprint(replace(SETTINGS, seed=5))
    with pytest.raises(FailedPreconditionError, match="seed was 0, now 5"):
        LiveCheckpoint.open(folder, other, {"a": 0})
    reopened = LiveCheckpoint.open(folder, _fingerprint(SETTINGS), {"a": 0})
    assert reopened.skipped("a") == "a skipped: for the test"
    assert reopened.set_rule(0) == "k >= 1: expected_best"
    fresh = LiveCheckpoint.open(folder, other, {"a": 0}, fresh=True)
    assert fresh.n_done == 0
    assert fresh.set_rule(0) is None
    assert (folder / "notes.txt").is_file()  # only the checkpoint's own files go


def test_results_without_a_manifest_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    LiveCheckpoint.open(folder, _fingerprint(SETTINGS), {"a": 0}).save_skipped("a", "note")
    (folder / MANIFEST).unlink()
    with pytest.raises(FailedPreconditionError, match=f"has results but no {MANIFEST}"):
        LiveCheckpoint.open(folder, _fingerprint(SETTINGS), {"a": 0})


runner = CliRunner()


@pytest.mark.slow
def test_cli_live_mode_keeps_a_checkpoint_and_resumes_from_it(db: str, tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    args = ["evaluate", "--space", "lightgbm", "--mode", "live", "--suite"]
    args += [f"pmlb:{require_pmlb()}", "--tasks", "1", "--k", "2", "--folds", "3"]
    args += ["--n-models", "2", "--n-estimators", "50", "--no-flaml", "--db", db]
    args += ["--checkpoint", str(folder)]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    assert "0 of 1 held-out tasks already done" in first.output
    assert len(_task_files(folder)) == 1
    again = runner.invoke(app, [*args, "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert "1 of 1 held-out tasks already done" in again.output
    assert "every held-out task is in the checkpoint" in again.output
    report = (tmp_path / "again" / "lightgbm_live.json").read_text()
    assert report == (tmp_path / "first" / "lightgbm_live.json").read_text()
    changed = [*args, "--k", "3", "--out", str(tmp_path / "refused")]  # the last --k counts
    refused = runner.invoke(app, changed)
    assert refused.exit_code == 1, refused.output
    assert "ks was [1, 2], now [1, 3]" in refused.output
    assert not (tmp_path / "refused").exists()
