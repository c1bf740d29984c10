"""The benchmark runner: plans, resumption, failures, time-outs, interruption, Dask."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import require_pmlb
from warmstart.benchmarks.runner import (
    DaskExecutor,
    Job,
    JobResult,
    LocalPool,
    PlanSpec,
    ProgressLog,
    Protocol,
    build_plan,
    describe_summary,
    parse_shard,
    resolve_workers,
    run_interruptible,
    run_plan,
    shard_bounds,
    summary_rows,
)
from warmstart.metamodel.errors import InvalidRequestError
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import RecordStatus

SMALL = PlanSpec(
    suite="sklearn:iris,wine,diabetes",
    learners=["lightgbm", "knn"],
    n_configs=3,
    protocol=Protocol(folds=2, row_cap=200),
)
FAULTY = "tests.benchmarks.faulty_learner:faulty"


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    return RecordStore.open(f"sqlite:///{tmp_path / 'bench.db'}")


def test_plan_runs_once_and_rerunning_adds_nothing(store: RecordStore) -> None:
    plan = build_plan(SMALL, store)
    # 3 tasks x 2 learners x 3 configs x 1 seed, every learner supports every task type.
    assert plan.total == 18
    assert len(plan.jobs) == 18
    summary = run_plan(store, plan, LocalPool(2, time_limit=120, memory_limit_mb=0))
    assert summary.stored == 18
    assert store.count_records() == 18
    assert store.count_records(RecordFilter(status=RecordStatus.OK)) == 18
    again = build_plan(SMALL, store)
    assert (again.total, len(again.jobs), again.already_stored) == (18, 0, 18)
    for record in store.get_records():
        assert record.score is not None
        assert record.fit_seconds is not None
        assert record.fit_seconds > 0
        assert record.peak_memory_mb is not None
        task = store.get_task(record.task_id)
        expected = (
            {"r2", "rmse", "mae"}
            if task.task_type.value == "regression"
            else {
                "roc_auc",
                "log_loss",
                "balanced_accuracy",
                "accuracy",
            }
        )
        assert expected <= set(record.metrics)


def test_the_default_config_is_always_planned(store: RecordStore) -> None:
    from warmstart.benchmarks.learners import get_learner

    plan = build_plan(SMALL, store)
    for name in ("lightgbm", "knn"):
        assert get_learner(name).default_config() in plan.configs[name]


def test_failures_timeouts_and_memory_exhaustion_become_records(store: RecordStore) -> None:
    spec = PlanSpec(
        suite="sklearn:iris", learners=[FAULTY], n_configs=4, protocol=Protocol(folds=2)
    )
    plan = build_plan(spec, store)
    assert len(plan.jobs) == 4
    summary = run_plan(store, plan, LocalPool(2, time_limit=8, memory_limit_mb=1024))
    assert summary.finished == 4
    by_mode = {r.config["mode"]: r for r in store.get_records()}
    assert by_mode["ok"].status is RecordStatus.OK
    assert by_mode["raise"].status is RecordStatus.FAILED
    assert "ValueError: deliberate failure for the test" in (by_mode["raise"].error or "")
    assert by_mode["sleep"].status is RecordStatus.TIMEOUT
    assert "exceeded the time limit of 8 s" in (by_mode["sleep"].error or "")
    assert by_mode["memory"].status is RecordStatus.FAILED
    assert "grew past the limit of 1024 MiB" in (by_mode["memory"].error or "")
    assert all(r.score is None for m, r in by_mode.items() if m != "ok")


def test_after_an_out_of_memory_exit_the_next_job_goes_to_a_fresh_child(
    store: RecordStore,
) -> None:
    # One worker, the memory hog first: the child that exceeded the limit is exiting when
    # its result arrives, so the next job must wait for its successor, not die with it.
    spec = PlanSpec(
        suite="sklearn:iris", learners=[FAULTY], n_configs=4, protocol=Protocol(folds=2)
    )
    jobs = sorted(build_plan(spec, store).jobs, key=lambda j: j.config["mode"] != "memory")
    assert jobs[0].config["mode"] == "memory"
    pool = LocalPool(1, time_limit=8, memory_limit_mb=1024)
    results = {
        r.job.config["mode"]: r for r in pool.run(j for j in jobs if j.config["mode"] != "sleep")
    }
    assert "grew past the limit of 1024 MiB" in (results["memory"].error or "")
    assert "ValueError: deliberate failure for the test" in (results["raise"].error or "")
    assert results["ok"].status is RecordStatus.OK


def _cli(*args: str, db: str) -> list[str]:
    return [sys.executable, "-m", "warmstart.service.cli", "bench", "run", *args, "--db", db]


def _wait_for_records(store: RecordStore, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = store.count_records()
        if count >= at_least:
            return count
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} records after {timeout} s")


ARGS = (
    "--suite",
    "sklearn:iris,wine,breast_cancer",
    "--learners",
    "lightgbm,random_forest",
    "--configs",
    "10",
    "--folds",
    "2",
    "--workers",
    "2",
    "--batch-size",
    "1",
)


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, as a terminal's foreground job has.

    A test run started in the background by a non-interactive shell (``cmd &``) inherits
    SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the run would
    rightly ignore Ctrl-C, and the test would see it finish with exit 0.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_kill_9_half_way_then_the_same_command_finishes_without_duplicates(
    store: RecordStore,
) -> None:
    db = store.url
    run = subprocess.Popen(_cli(*ARGS, db=db), start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        _wait_for_records(store, 8, timeout=180)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the runner and its workers, at once
        run.wait()
    partial = store.count_records()
    assert 8 <= partial < 60
    finish = subprocess.run(_cli(*ARGS, db=db), capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stderr
    assert f"{partial} already stored" in finish.stdout
    assert store.count_records() == 60
    assert len(store.record_keys()) == 60


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_saves_finished_evaluations_and_exits_130(
    store: RecordStore, signum: signal.Signals
) -> None:
    run = subprocess.Popen(
        _cli(*ARGS, db=store.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    _wait_for_records(store, 4, timeout=180)
    run.send_signal(signum)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, (out, err)
    assert "interrupted" in out
    saved = store.count_records()
    assert saved >= 4
    assert f"{saved} finished evaluations were saved" in out


@pytest.mark.dask
@pytest.mark.slow
def test_dask_local_cluster_stores_the_same_keys_and_scores(tmp_path: Path) -> None:
    spec = PlanSpec(
        suite="sklearn:iris,diabetes",
        learners=["lightgbm", "knn"],
        n_configs=3,
        protocol=Protocol(folds=2),
    )
    stores = {
        name: RecordStore.open(f"sqlite:///{tmp_path / (name + '.db')}")
        for name in ("local", "dask")
    }
    run_plan(stores["local"], build_plan(spec, stores["local"]), LocalPool(2, 120, 0))
    executor = DaskExecutor("local:2", 120, 0)
    try:
        run_plan(stores["dask"], build_plan(spec, stores["dask"]), executor)
    finally:
        executor.close()
    local = {r.key: r.score for r in stores["local"].get_records()}
    dask = {r.key: r.score for r in stores["dask"].get_records()}
    assert set(local) == set(dask)
    assert len(local) == 12
    assert dask == pytest.approx(local, rel=0, abs=0)


def test_bad_plans_are_refused_with_the_reason(store: RecordStore) -> None:
    from warmstart.metamodel.errors import InvalidRequestError, NotFoundError

    with pytest.raises(NotFoundError, match="no learner named 'lightgmb'"):
        build_plan(PlanSpec(suite="sklearn", learners=["lightgmb"]), store)
    with pytest.raises(InvalidRequestError, match="folds must be >= 2"):
        build_plan(PlanSpec(suite="sklearn", learners=["knn"], protocol=Protocol(folds=1)), store)
    with pytest.raises(NotFoundError, match="has no task"):
        build_plan(PlanSpec(suite="sklearn", learners=["knn"], task_names=["nope"]), store)
    with pytest.raises(InvalidRequestError):
        build_plan(PlanSpec(suite="nosuchkind:x", learners=["knn"]), store)
    assert store.count_records() == 0


@pytest.mark.parametrize("n_tasks", [0, 1, 2, 7, 148, 150])
@pytest.mark.parametrize("count", [1, 2, 3, 10])
def test_shards_split_the_tasks_into_contiguous_parts_that_cover_each_once(
    n_tasks: int, count: int
) -> None:
    bounds = [shard_bounds(n_tasks, index, count) for index in range(1, count + 1)]
    # Part by part, the tasks from 0 on, each part starting where the last one stopped.
    assert [start for start, _ in bounds] == [0] + [stop for _, stop in bounds[:-1]]
    assert bounds[-1][1] == n_tasks
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_a_twin_in_a_later_shard_is_planned_as_the_stored_task_not_refused(
    store: RecordStore, tmp_path: Path
) -> None:
    # PMLB ships byte-identical files under different names (227_cpu_small and
    # 562_cpu_small): one task id. Sharded, the first name is stored by one part and the
    # other comes in a later part, which must reuse the stored task and its records.
    folder = tmp_path / "suite"
    folder.mkdir()
    for name in ("a_iris", "b_wine", "c_iris"):
        source = "wine_recognition" if name == "b_wine" else "iris"
        shutil.copy(require_pmlb() / f"{source}.tsv.gz", folder / f"{name}.tsv.gz")
    spec = PlanSpec(
        suite=f"files:{folder}", learners=["knn"], n_configs=2, protocol=Protocol(folds=2)
    )
    first = build_plan(replace(spec, shard=(1, 2)), store)
    assert [task.name for task in first.tasks] == ["files/a_iris"]
    run_plan(store, first, LocalPool(1, time_limit=120, memory_limit_mb=0))
    second = build_plan(replace(spec, shard=(2, 2)), store)
    assert [task.name for task in second.tasks] == ["files/b_wine", "files/a_iris"]
    assert second.tasks[1].task_id == first.tasks[0].task_id
    assert (second.total, second.already_stored) == (4, 2)
    assert {job.task_name for job in second.jobs} == {"b_wine"}
    assert sorted(task.name for task in store.list_tasks()) == ["files/a_iris", "files/b_wine"]


def test_parse_shard_reads_i_of_n_and_refuses_anything_else_clearly() -> None:
    assert parse_shard("10/10") == (10, 10)
    assert parse_shard(" 2 / 4 ") == (2, 4)
    for bad in ("0/3", "4/3", "3", "1/0", "a/b", "-1/2", "1/2/3", ""):
        with pytest.raises(InvalidRequestError, match=r"--shard must be I/N .* got"):
            parse_shard(bad)


def test_each_row_cap_makes_its_own_records(store: RecordStore) -> None:
    """A record's fidelity is the fraction of its task's rows used: a 200-row sample of
    diabetes (442 rows) and all of it are two records; iris (150 rows) is whole at both."""
    capped = PlanSpec(
        suite="sklearn:iris,diabetes",
        learners=["lightgbm"],
        n_configs=2,
        protocol=Protocol(folds=2, row_cap=200),
    )
    run_plan(store, build_plan(capped, store), LocalPool(2, time_limit=120, memory_limit_mb=0))
    fidelity = {
        store.get_task(r.task_id).name.split("/")[-1]: r.fidelity for r in store.get_records()
    }
    assert fidelity == {"iris": 1.0, "diabetes": 200 / 442}
    whole = replace(capped, protocol=Protocol(folds=2, row_cap=None))
    plan = build_plan(whole, store)
    assert plan.already_stored == 2  # iris: all its rows either way
    assert {job.task_name for job in plan.jobs} == {"diabetes"}
    assert {job.fidelity for job in plan.jobs} == {1.0}
    # min_rows spends a larger cap where it changes something.
    only_big = build_plan(replace(whole, min_rows=300), store)
    assert {t.name.split("/")[-1] for t in only_big.tasks} == {"diabetes"}


class _StoppingExecutor:
    """Finishes the first job, then is stopped as Ctrl-C stops a run; records closing."""

    closed = False

    def describe(self) -> str:
        return "stub"

    def run(self, jobs: Iterable[Job]) -> Iterator[JobResult]:
        first = next(iter(jobs))
        yield JobResult(job=first, status=RecordStatus.OK, score=0.5)
        raise KeyboardInterrupt

    def close(self) -> None:
        self.closed = True


def test_run_interruptible_saves_what_finished_closes_and_restores_sigterm(
    store: RecordStore,
) -> None:
    plan = build_plan(
        PlanSpec(suite="sklearn:iris", learners=["knn"], n_configs=3, protocol=Protocol(folds=2)),
        store,
    )
    executor = _StoppingExecutor()
    seen: list[JobResult] = []
    before = signal.getsignal(signal.SIGTERM)
    summary = run_interruptible(store, plan, executor, 50, on_result=seen.append)
    assert summary.interrupted
    assert (summary.stored, len(seen), store.count_records()) == (1, 1, 1)
    assert executor.closed
    assert signal.getsignal(signal.SIGTERM) is before
    [row] = summary_rows(summary)
    assert (row.learner, row.done, row.ok, row.failed, row.timeout) == ("knn", 1, 1, 0, 0)
    assert describe_summary(summary).startswith("1 evaluations in ")
    assert "1 new records stored, 0 were already stored" in describe_summary(summary)


def test_progress_log_writes_a_line_per_interval_and_one_at_the_end() -> None:
    lines: list[str] = []
    log = ProgressLog(3, lines.append, interval=3600)
    job = Job("s", "t", "id", "knn", "sp", {}, "h", 0, Protocol())
    for status in (RecordStatus.FAILED, RecordStatus.TIMEOUT, RecordStatus.OK):
        log(JobResult(job=job, status=status))
    assert len(lines) == 1
    assert lines[0].startswith("progress 3/3 (failed 1, timeout 1), elapsed ")


def test_resolve_workers_defaults_to_the_cpus_and_refuses_below_one() -> None:
    assert resolve_workers(3) == 3
    assert resolve_workers(None) >= 1
    with pytest.raises(InvalidRequestError, match="--workers must be >= 1, got 0"):
        resolve_workers(0)
