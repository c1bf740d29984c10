"""Building a knowledge base from a plan, on a tiny suite, through the library.

One build (three scikit-learn datasets, k-NN and logistic regression, 2-3 configs,
2-fold CV) is made once per module; the other tests build beside it or read it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.benchmarks.kb_plan import PLAN, SUITE
from warmstart.benchmarks.kb import (
    BuildObserver,
    KbBuild,
    KbBuildRequest,
    KbBuildResult,
    compare_records,
    load_kb_plan,
)
from warmstart.benchmarks.kb import _write as kb_write
from warmstart.benchmarks.runner import Plan, PlanSpec
from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.errors import FailedPreconditionError, InvalidRequestError
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.probes import probe_version
from warmstart.metamodel.store import RecordStore, import_records

KNN_RECORDS = 3 * 2 + 2  # step 0 on three tasks; step 1 adds a third config on two
LR_RECORDS = 3 * 2
OUTPUTS = {
    "pmlb_records.parquet",
    "pmlb_features.parquet",
    "models/knn.wsb",
    "models/logistic_regression.wsb",
}
COMMAND = "warmstart kb build --suite sklearn:iris,wine,breast_cancer"


class Recorder(BuildObserver):
    """Keeps what a build reports: each step's plan size and the warnings."""

    def __init__(self) -> None:
        self.planned_runs: list[tuple[int, int]] = []  # (already stored, to run)
        self.warnings: list[str] = []

    def planned(self, spec: PlanSpec, plan: Plan) -> None:
        self.planned_runs.append((plan.already_stored, len(plan.jobs)))

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@dataclass(frozen=True)
class Built:
    plan: Path
    db: str
    result: KbBuildResult
    planned_runs: list[tuple[int, int]]


def _request(plan: Path, out: Path, **changes: Any) -> KbBuildRequest:
    request = KbBuildRequest(plan=load_kb_plan(plan), suite=SUITE, out=out, command=COMMAND)
    return replace(request, **changes)


def _build(
    request: KbBuildRequest, db: str, observer: BuildObserver | None = None
) -> KbBuildResult:
    with RecordStore.open(db) as store:
        return KbBuild(request).run(store, observer)


def _records(path: Path) -> list[tuple[Any, ...]]:
    columns = ["task_id", "space_name", "config_hash", "seed", "status", "score"]
    table = pq.read_table(path, columns=columns).to_pydict()
    return sorted(zip(*(table[c] for c in columns), strict=True))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(PLAN)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, plan: Path) -> Built:
    root = tmp_path_factory.mktemp("kb")
    db = f"sqlite:///{root / 'kb.db'}"
    recorder = Recorder()
    result = _build(_request(plan, root / "out"), db, recorder)
    return Built(plan, db, result, recorder.planned_runs)


def test_build_runs_each_step_and_writes_the_knowledge_base(built: Built) -> None:
    result = built.result
    assert built.planned_runs == [(0, 12), (4, 2)]  # step 1 extends step 0
    assert [(s.index, s.learners) for s in result.steps] == [
        (0, ("knn", "logistic_regression")),
        (1, ("knn",)),
    ]
    assert result.new_records == KNN_RECORDS + LR_RECORDS
    assert (result.records, result.features, result.described) == (14, 3, 0)
    assert _files(result.out) == OUTPUTS | {"provenance.json"}  # no staging files left
    records = _records(result.out / "pmlb_records.parquet")
    assert len(records) == KNN_RECORDS + LR_RECORDS
    with RecordStore.open(built.db, create=False) as store:
        assert store.count_records() == len(records)
    assert pq.read_table(result.out / "pmlb_features.parquet").num_rows == 3
    for name in ("knn", "logistic_regression"):
        bundle = load_bundle(result.out / f"models/{name}.wsb", feature_version=FEATURE_VERSION)
        assert result.spaces[name].bundle_version == bundle.version
        assert bundle.training["seed"] == 0


def test_provenance_records_the_build_and_its_files_hashes(built: Built) -> None:
    provenance = built.result.provenance
    assert provenance == json.loads((built.result.out / "provenance.json").read_text())
    assert provenance["command"] == COMMAND
    assert provenance["started_at"] <= provenance["finished_at"]
    assert provenance["started_at"].endswith("Z")
    libraries = {"python", "lightgbm", "scikit-learn", "numpy", "pandas", "pyarrow"}
    assert libraries | {"ConfigSpace", "warmstart"} <= set(provenance["libraries"])
    machine = provenance["machine"]
    assert machine["cpus"] >= 1
    assert machine["architecture"]
    assert machine["numpy_simd"] is None or isinstance(machine["numpy_simd"], list)
    assert provenance["plan"]["steps"][1] == {
        "learners": ["knn"],
        "configs": 3,
        "tasks": 2,
        "folds": 2,
        "row_cap": 2000,
        "time_limit": 120.0,
        "seeds": [0],
    }
    assert provenance["plan"]["sha256"] == _sha256(built.plan)
    knn = provenance["spaces"]["knn"]
    assert (knn["tasks"], knn["records"], knn["ok"], knn["failed"], knn["timeout"]) == (
        3,
        KNN_RECORDS,
        KNN_RECORDS,
        0,
        0,
    )
    assert knn["bundle"]["version"] == built.result.spaces["knn"].bundle_version
    assert provenance["spaces"]["logistic_regression"]["records"] == LR_RECORDS
    assert set(provenance["files"]) == OUTPUTS
    for name, entry in provenance["files"].items():
        path = built.result.out / name
        assert entry == {"sha256": _sha256(path), "bytes": path.stat().st_size}


def test_a_build_on_a_fresh_database_gives_the_same_records(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    result = _build(_request(plan, tmp_path / "out"), f"sqlite:///{tmp_path / 'fresh.db'}")
    first = _records(built.result.out / "pmlb_records.parquet")
    assert _records(result.out / "pmlb_records.parquet") == first
    compared = compare_records(built.result.out, result.out)
    assert not compared.differing
    assert (compared.same, len(compared.spaces), compared.not_compared) == (14, 2, ())
    knn = compared.spaces[0]
    assert (knn.space, knn.ours, knn.theirs, knn.same, knn.largest_gap) == ("knn", 8, 8, 8, 0.0)
    assert knn.data_hashes[0] is not None
    assert knn.data_hashes[0] == knn.data_hashes[1]


def test_a_rerun_on_the_same_database_evaluates_nothing(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    recorder = Recorder()
    result = _build(_request(plan, tmp_path / "out"), built.db, recorder)
    assert recorder.planned_runs == [(12, 0), (6, 0)]
    assert result.new_records == 0
    assert all(s.summary is not None and s.summary.finished == 0 for s in result.steps)
    first = _records(built.result.out / "pmlb_records.parquet")
    assert _records(result.out / "pmlb_records.parquet") == first


def test_without_bench_it_exports_and_trains_what_the_database_holds(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    recorder = Recorder()
    result = _build(_request(plan, tmp_path / "out", bench=False, seed=3), built.db, recorder)
    assert (result.steps, recorder.planned_runs) == ((), [])
    assert _files(tmp_path / "out") == OUTPUTS | {"provenance.json"}
    assert result.provenance["bench"] is False
    assert result.spaces["knn"].training is not None
    assert result.spaces["knn"].training["seed"] == 3


def test_without_bench_it_computes_the_meta_features_the_database_lacks(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'imported.db'}"
    with RecordStore.open(db) as store:  # tasks and records, no meta-features
        import_records(store, built.result.out / "pmlb_records.parquet")
    result = _build(_request(plan, tmp_path / "out", bench=False), db)
    assert result.described == 3
    columns = ["task_id", "names", "values"]
    fresh = pq.read_table(tmp_path / "out" / "pmlb_features.parquet", columns=columns)
    first = pq.read_table(built.result.out / "pmlb_features.parquet", columns=columns)
    assert fresh.to_pylist() == first.to_pylist()


def test_without_bench_an_empty_database_fails_clearly(plan: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    RecordStore.open(db).close()
    with pytest.raises(FailedPreconditionError) as caught:
        _build(_request(plan, tmp_path / "out", bench=False), db)
    assert "holds no records of the plan's spaces (knn, logistic_regression)" in str(caught.value)
    assert "run without --no-bench" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_learners_runs_only_their_part_of_the_plan(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'lr.db'}"
    result = _build(_request(plan, tmp_path / "out", learners=("logistic_regression",)), db)
    assert [s.learners for s in result.steps] == [("logistic_regression",), ()]
    assert result.steps[1].summary is None  # skipped: none of its learners is asked for
    assert list(result.provenance["spaces"]) == ["logistic_regression"]
    assert result.provenance["learners"] == ["logistic_regression"]
    assert result.spaces["logistic_regression"].counts.records == LR_RECORDS
    compared = compare_records(built.result.out, result.out)
    assert compared.not_compared == ("knn",)
    assert (compared.same, compared.differing) == (LR_RECORDS, [])


def test_shards_cover_the_plan_between_them_and_each_compares_on_its_own(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    # Step 0 has three tasks (shard 1/2: iris; 2/2: wine, breast_cancer), step 1 two
    # (iris; wine): shard 1/2 makes 3 knn and 2 logistic regression records of iris.
    db = f"sqlite:///{tmp_path / 'shards.db'}"
    recorder = Recorder()
    first = _build(_request(plan, tmp_path / "first", shard=(1, 2)), db, recorder)
    assert any(w.startswith("no model of knn") for w in recorder.warnings)  # one task: too few
    assert first.spaces["knn"].bundle_version is None
    assert first.provenance["shard"] == "1/2"
    assert {n: s["records"] for n, s in first.provenance["spaces"].items()} == {
        "knn": 3,
        "logistic_regression": 2,
    }
    partial = compare_records(built.result.out, first.out, only_its_tasks=True)
    assert (partial.same, partial.differing) == (5, [])
    # Without only_its_tasks, the other tasks' records have no partner there.
    whole = compare_records(built.result.out, first.out)
    assert whole.spaces[0].only_ours == KNN_RECORDS - 3
    second = _build(_request(plan, tmp_path / "second", shard=(2, 2)), db)
    both = _records(second.out / "pmlb_records.parquet")
    assert both == _records(built.result.out / "pmlb_records.parquet")


def test_an_interrupted_build_changes_nothing_in_out_and_a_rerun_completes(
    built: Built, plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "pmlb_records.parquet").write_bytes(b"the previous build's file")

    def stopped(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as SIGTERM or Ctrl-C during training

    monkeypatch.setattr(kb_write, "train_bundle", stopped)
    with pytest.raises(KeyboardInterrupt):
        _build(_request(plan, out, bench=False), built.db)
    assert [p.name for p in out.iterdir()] == ["pmlb_records.parquet"]
    assert (out / "pmlb_records.parquet").read_bytes() == b"the previous build's file"
    monkeypatch.undo()
    _build(_request(plan, out, bench=False), built.db)
    assert _files(out) == OUTPUTS | {"provenance.json"}


@pytest.mark.parametrize(
    ("changes", "suite_line", "message"),
    [
        ({"suite": "pmlb"}, 'suite = "pmlb"', "pmlb needs a folder, as in pmlb:PATH"),
        ({"suite": "pmlb:/no/such/folder"}, 'suite = "pmlb"', "/no/such/folder does not exist"),
        ({"suite": "sklearn:iris"}, 'suite = "pmlb"', "is for 'pmlb': give --suite pmlb:"),
        ({"learners": ("svm",)}, None, "--learners: 'svm' is not a learner of the plan"),
        ({"learners": ()}, None, "--learners names no learner"),
        ({"shard": (1, 2), "bench": False}, None, "--shard chooses tasks to evaluate"),
    ],
)
def test_a_bad_request_is_refused_before_anything_is_opened(
    changes: dict[str, Any], suite_line: str | None, message: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.replace('suite = "sklearn"', suite_line) if suite_line else PLAN)
    with pytest.raises(InvalidRequestError) as caught:
        KbBuild(_request(plan, tmp_path / "out", **changes))
    assert message in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]


def _with_further_suite(tmp_path: Path) -> Path:
    """The tiny plan with a further suite ``extra`` and a k-NN step on it."""
    path = tmp_path / "plan.toml"
    text = PLAN.replace("\n[[steps]]", "\n[suites]\nextra = 'sklearn'\n\n[[steps]]", 1)
    path.write_text(
        text + '\n[[steps]]\nsuite = "extra"\nlearners = ["knn"]\nconfigs = 2\nfolds = 2\n'
    )
    return path


def test_a_step_on_a_further_suite_evaluates_and_describes_its_tasks(tmp_path: Path) -> None:
    plan = _with_further_suite(tmp_path)
    extra = {"extra": "sklearn:diabetes"}
    db = f"sqlite:///{tmp_path / 'kb.db'}"
    result = _build(_request(plan, tmp_path / "out", suites=extra), db)
    summary = result.steps[2].summary
    assert summary is not None
    assert summary.stored == 2
    assert result.spaces["knn"].counts.records == KNN_RECORDS + 2
    assert result.provenance["suites"] == extra
    assert result.provenance["plan"]["steps"][2]["suite"] == "extra"
    # From the exported records alone, the meta-features of both suites' tasks come back.
    fresh = f"sqlite:///{tmp_path / 'imported.db'}"
    with RecordStore.open(fresh) as store:
        import_records(store, result.out / "pmlb_records.parquet")
    rebuilt = _build(_request(plan, tmp_path / "again", bench=False, suites=extra), fresh)
    assert rebuilt.described == 4
    columns = ["task_id", "values"]
    first = pq.read_table(result.out / "pmlb_features.parquet", columns=columns).to_pylist()
    again = pq.read_table(rebuilt.out / "pmlb_features.parquet", columns=columns).to_pylist()
    assert len(first) == 4
    assert sorted(map(str, again)) == sorted(map(str, first))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "steps[2] of the plan"),
        ({"suites": {"other": "sklearn:iris"}}, "has no suite 'other' (its [suites]: extra)"),
        ({"suites": {"extra": "pmlb:/x"}}, "a 'pmlb' suite, but the plan's suite 'extra' is"),
    ],
)
def test_a_further_suite_missing_or_wrong_is_refused_before_anything_is_opened(
    changes: dict[str, Any], message: str, tmp_path: Path
) -> None:
    plan = _with_further_suite(tmp_path)
    with pytest.raises(InvalidRequestError) as caught:
        KbBuild(_request(plan, tmp_path / "out", **changes))
    assert message in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]
    # Without evaluating, the further suite is not needed.
    if not changes:
        KbBuild(_request(plan, tmp_path / "out", bench=False))


def test_a_plan_with_probes_measures_them_once_ships_them_and_trains_on_them(
    built: Built, tmp_path: Path
) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN + '\n[probes]\nlearners = ["knn"]\ncandidates = 2\nread = 1\n')
    db = f"sqlite:///{tmp_path / 'probed.db'}"
    with RecordStore.open(db) as store:  # the records of the build, no meta-features
        import_records(store, built.result.out / "pmlb_records.parquet")
    result = _build(_request(load_kb_plan(path).path, tmp_path / "out", bench=False), db)
    assert result.probed == 3  # every k-NN task, once
    table = pq.read_table(tmp_path / "out" / "pmlb_features.parquet").to_pylist()
    probed = [row for row in table if row["version"] == probe_version("knn")]
    assert len(probed) == 3
    names = {tuple(row["names"]) for row in probed}  # the candidates: one list for every task
    assert len(names) == 1
    assert 1 <= len(next(iter(names))) <= 2  # covered and cheap of the two asked for
    assert all(v is None or 0.0 <= v <= 1.0 for row in probed for v in row["values"])
    # Three tasks cannot show that reading the probe pays: the bundle tried one, read it at
    # no k, and is the one trained without it.
    bundle = load_bundle(tmp_path / "out" / "models" / "knn.wsb")
    assert bundle.training["probes_considered"] == 1
    assert not bundle.probes
    assert "probe_mean" not in bundle.feature_names
    unprobed = load_bundle(tmp_path / "out" / "models" / "logistic_regression.wsb")
    assert "probes_considered" not in unprobed.training
    again = _build(_request(path, tmp_path / "again", bench=False), db)
    assert again.probed == 0  # stored: not measured twice
    assert result.provenance["plan"]["probes"] == {
        "learners": ["knn"],
        "candidates": 2,
        "read": 1,
    }


def test_a_shard_leaves_the_probes_to_the_build_that_gathers_it(
    built: Built, tmp_path: Path
) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN + '\n[probes]\nlearners = ["knn"]\n')
    recorder = Recorder()
    db = f"sqlite:///{tmp_path / 'shard.db'}"
    result = _build(_request(path, tmp_path / "out", shard=(1, 2)), db, recorder)
    assert result.probed == 0
    assert any("probes are measured by the build that gathers" in w for w in recorder.warnings)
    # Trained without probes, not refused for want of them (this shard's one k-NN task is
    # too few for any model, which the build says apart).
    assert any("knn: no probe scores are stored" in w for w in recorder.warnings)
    assert "probe" not in str(result.spaces["knn"].no_model)
