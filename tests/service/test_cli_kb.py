"""`warmstart kb build | info`: the knowledge base rebuilt from a plan, on a tiny suite.

One build (three scikit-learn datasets, k-NN and logistic regression, 2-3 configs,
2-fold CV) is made once per module; the other tests build beside it or read it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

import warmstart
from warmstart.benchmarks.kb import default_kb_dir
from warmstart.benchmarks.learners import available_learners
from warmstart.metamodel.bundle import load_bundle
from warmstart.metamodel.features import FEATURE_VERSION
from warmstart.metamodel.store import RecordStore
from warmstart.service.cli import _kb, _kb_compare, app
from warmstart.service.cli._kb_plan import load_kb_plan

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
SUITE = "sklearn:iris,wine,breast_cancer"
# Three tasks per space: a bundle's task index needs at least three.
PLAN = """\
suite = "sklearn"
feature_version = "mf-1"

[[steps]]
learners = ["knn", "logistic_regression"]
configs = 2
folds = 2

[[steps]]
learners = ["knn"]
configs = 3
tasks = 2
folds = 2
"""
KNN_RECORDS = 3 * 2 + 2  # step 0 on three tasks; step 1 adds a third config on two
LR_RECORDS = 3 * 2
OUTPUTS = {
    "pmlb_records.parquet",
    "pmlb_features.parquet",
    "models/knn.wsb",
    "models/logistic_regression.wsb",
}


@dataclass(frozen=True)
class Built:
    plan: Path
    db: str
    out: Path
    output: str


def _build(plan: Path, out: Path, db: str, *extra: str, suite: str = SUITE) -> Result:
    args = ["kb", "build", "--suite", suite, "--plan", str(plan), "--out", str(out)]
    return runner.invoke(app, [*args, "--db", db, "--workers", "1", *extra])


def _compare(other: Path, reference: Path, *extra: str) -> Result:
    return runner.invoke(app, ["kb", "compare", str(other), "--kb", str(reference), *extra])


def _provenance(folder: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((folder / "provenance.json").read_text()))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _records(path: Path) -> list[tuple[Any, ...]]:
    columns = ["task_id", "space_name", "config_hash", "seed", "status", "score"]
    table = pq.read_table(path, columns=columns).to_pydict()
    return sorted(zip(*(table[c] for c in columns), strict=True))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(PLAN)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, plan: Path) -> Built:
    root = tmp_path_factory.mktemp("kb")
    db = f"sqlite:///{root / 'kb.db'}"
    result = _build(plan, root / "out", db)
    assert result.exit_code == 0, result.output
    return Built(plan, db, root / "out", result.output)


def test_build_runs_each_step_and_writes_the_knowledge_base(built: Built) -> None:
    assert "steps[0] of 2: knn, logistic_regression: 2 configs" in built.output
    assert "steps[1] of 2: knn: 3 configs, at most 2 tasks" in built.output
    assert "4 already stored, 2 to run" in built.output  # step 1 extends step 0
    assert _files(built.out) == OUTPUTS | {"provenance.json"}  # no staging files left
    records = _records(built.out / "pmlb_records.parquet")
    assert len(records) == KNN_RECORDS + LR_RECORDS
    with RecordStore.open(built.db, create=False) as store:
        assert store.count_records() == len(records)
    assert pq.read_table(built.out / "pmlb_features.parquet").num_rows == 3
    provenance = json.loads((built.out / "provenance.json").read_text())
    for name in ("knn", "logistic_regression"):
        bundle = load_bundle(built.out / f"models/{name}.wsb", feature_version=FEATURE_VERSION)
        assert provenance["spaces"][name]["bundle"]["version"] == bundle.version
        assert bundle.training["seed"] == 0


def test_provenance_records_the_build_and_its_files_hashes(built: Built) -> None:
    provenance = json.loads((built.out / "provenance.json").read_text())
    assert provenance["command"].startswith("warmstart ")
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
    assert provenance["spaces"]["logistic_regression"]["records"] == LR_RECORDS
    assert set(provenance["files"]) == OUTPUTS
    for name, entry in provenance["files"].items():
        path = built.out / name
        assert entry == {"sha256": _sha256(path), "bytes": path.stat().st_size}


def test_a_build_on_a_fresh_database_gives_the_same_records(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    result = _build(plan, tmp_path / "out", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert result.exit_code == 0, result.output
    first = _records(built.out / "pmlb_records.parquet")
    assert _records(tmp_path / "out" / "pmlb_records.parquet") == first
    compared = _compare(tmp_path / "out", built.out)
    assert compared.exit_code == 0, compared.output
    assert "all 14 records of 2 spaces are the same" in compared.output
    knn = _row(compared.output, "knn")
    assert knn[:9] == ["8", "8", "0", "0", "8", "0", "0", "0", "0"]
    assert knn[9].startswith("same (")


def _row(output: str, space: str) -> list[str]:
    line = next(line for line in output.splitlines() if f"│ {space} " in line)
    return [cell.strip() for cell in line.split("│")[2:-1]]


def test_a_rerun_on_the_same_database_evaluates_nothing(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    result = _build(plan, tmp_path / "out", built.db)
    assert result.exit_code == 0, result.output
    assert result.output.count("nothing to do") == 2
    assert "12 already stored, 0 to run" in result.output
    assert "evaluations done: 0 new records" in result.output
    first = _records(built.out / "pmlb_records.parquet")
    assert _records(tmp_path / "out" / "pmlb_records.parquet") == first


def test_no_bench_exports_and_trains_what_the_database_holds(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    result = _build(plan, tmp_path / "out", built.db, "--no-bench", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "plan:" not in result.output
    assert _files(tmp_path / "out") == OUTPUTS | {"provenance.json"}
    provenance = _provenance(tmp_path / "out")
    assert provenance["bench"] is False
    assert provenance["spaces"]["knn"]["bundle"]["training"]["seed"] == 3


def test_no_bench_computes_the_meta_features_the_database_lacks(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'imported.db'}"
    imported = runner.invoke(
        app, ["records", "import", str(built.out / "pmlb_records.parquet"), "--db", db]
    )
    assert imported.exit_code == 0, imported.output  # tasks and records, no meta-features
    result = _build(plan, tmp_path / "out", db, "--no-bench")
    assert result.exit_code == 0, result.output
    assert f"meta-features {FEATURE_VERSION}: 3 tasks described" in result.output
    columns = ["task_id", "names", "values"]
    fresh = pq.read_table(tmp_path / "out" / "pmlb_features.parquet", columns=columns)
    first = pq.read_table(built.out / "pmlb_features.parquet", columns=columns)
    assert fresh.to_pylist() == first.to_pylist()


def test_no_bench_on_an_empty_database_fails_clearly(plan: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    RecordStore.open(db).close()
    result = _build(plan, tmp_path / "out", db, "--no-bench")
    assert result.exit_code == 1, result.output
    assert "holds no records of the plan's spaces (knn, logistic_regression)" in result.output
    assert "run without --no-bench" in result.output
    assert not (tmp_path / "out").exists()


def test_learners_runs_only_their_part_of_the_plan(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'lr.db'}"
    result = _build(plan, tmp_path / "out", db, "--learners", "logistic_regression")
    assert result.exit_code == 0, result.output
    assert "only logistic_regression (--learners)" in result.output
    assert "skipped: none of its learners is in --learners" in result.output
    provenance = _provenance(tmp_path / "out")
    assert list(provenance["spaces"]) == ["logistic_regression"]
    assert provenance["spaces"]["logistic_regression"]["records"] == LR_RECORDS
    compared = _compare(tmp_path / "out", built.out)
    assert compared.exit_code == 0, compared.output
    assert "not compared: knn" in compared.output
    assert "all 6 records of 1 spaces are the same" in compared.output


def test_shards_cover_the_plan_between_them_and_each_compares_on_its_own(
    built: Built, plan: Path, tmp_path: Path
) -> None:
    # Step 0 has three tasks (shard 1/2: iris; 2/2: wine, breast_cancer), step 1 two
    # (iris; wine): shard 1/2 makes 3 knn and 2 logistic regression records of iris.
    db = f"sqlite:///{tmp_path / 'shards.db'}"
    first = _build(plan, tmp_path / "first", db, "--shard", "1/2")
    assert first.exit_code == 0, first.output
    assert "only part 1 of 2 of its tasks (--shard)" in first.output
    assert "warning: no model of knn" in first.output  # one task is too few to train on
    provenance = _provenance(tmp_path / "first")
    assert provenance["shard"] == "1/2"
    assert {n: s["records"] for n, s in provenance["spaces"].items()} == {
        "knn": 3,
        "logistic_regression": 2,
    }
    partial = _compare(tmp_path / "first", built.out, "--only-its-tasks")
    assert partial.exit_code == 0, partial.output
    assert "all 5 records of 2 spaces are the same" in partial.output
    # Without --only-its-tasks, the other tasks' records have no partner there.
    whole = _compare(tmp_path / "first", built.out)
    assert whole.exit_code == 1, whole.output
    assert _row(whole.output, "knn")[6] == str(KNN_RECORDS - 3)  # only here
    second = _build(plan, tmp_path / "second", db, "--shard", "2/2")
    assert second.exit_code == 0, second.output
    both = _records(tmp_path / "second" / "pmlb_records.parquet")
    assert both == _records(built.out / "pmlb_records.parquet")


def test_an_interrupted_build_changes_nothing_in_out_and_a_rerun_completes(
    built: Built, plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "pmlb_records.parquet").write_bytes(b"the previous build's file")

    def stopped(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as SIGTERM or Ctrl-C during training

    monkeypatch.setattr(_kb, "train_bundle", stopped)
    result = _build(plan, out, built.db, "--no-bench")
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output
    assert [p.name for p in out.iterdir()] == ["pmlb_records.parquet"]
    assert (out / "pmlb_records.parquet").read_bytes() == b"the previous build's file"
    monkeypatch.undo()
    again = _build(plan, out, built.db, "--no-bench")
    assert again.exit_code == 0, again.output
    assert _files(out) == OUTPUTS | {"provenance.json"}


def test_kb_info_prints_the_counts_and_checks_the_hashes(built: Built, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(built.out, kb)
    result = runner.invoke(app, ["kb", "info", "--kb", str(kb)])
    assert result.exit_code == 0, result.output
    knn = next(line for line in result.output.splitlines() if "│ knn " in line)
    assert [cell.strip() for cell in knn.split("│")[2:7]] == ["3", "8", "8", "0", "0"]
    assert _sha256(kb / "models/knn.wsb") in result.output
    assert "all 4 files match provenance.json" in result.output

    with (kb / "pmlb_features.parquet").open("ab") as handle:
        handle.write(b"\0")
    changed = runner.invoke(app, ["kb", "info", "--kb", str(kb)])
    assert changed.exit_code == 1, changed.output
    assert "1 of 4 files do not match provenance.json: pmlb_features.parquet" in changed.output

    (kb / "provenance.json").unlink()
    bare = runner.invoke(app, ["kb", "info", "--kb", str(kb)])
    assert bare.exit_code == 0, bare.output
    assert "no provenance.json; counts from pmlb_records.parquet" in bare.output
    lr = next(line for line in bare.output.splitlines() if "│ logistic_regression " in line)
    assert [cell.strip() for cell in lr.split("│")[2:7]] == ["3", "6", "6", "0", "0"]


def _rewrite_records(path: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    table = pq.read_table(path)
    rows = table.to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def test_kb_compare_lists_what_differs_and_exits_1(built: Built, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(built.out, other)
    # A folder without a usable provenance.json compares its records alone.
    (other / "provenance.json").write_text('{"spaces": ["not", "a", "mapping"]}')

    def change(rows: list[dict[str, Any]]) -> None:
        knn = [r for r in rows if r["space_name"] == "knn"]
        knn[0]["score"] += 0.25
        knn[1]["score"] += 1e-12
        lr = next(r for r in rows if r["space_name"] == "logistic_regression")
        lr["status"], lr["score"] = "timeout", None
        rows.remove(knn[2])

    _rewrite_records(other / "pmlb_records.parquet", change)
    args = ["kb", "compare", str(other), "--kb", str(built.out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    knn = _row(result.output, "knn")
    assert knn[:8] == ["8", "7", "0", "0", "5", "2", "1", "0"]
    assert float(knn[8]) >= 0.25 / 1.25  # relative to the larger score where it is above 1
    assert knn[9] == "-"
    assert _row(result.output, "logistic_regression")[:8] == [
        "6",
        "6",
        "0",
        "1",
        "5",
        "1",
        "0",
        "0",
    ]
    assert "2 of 2 spaces differ: knn (3 records), logistic_regression (1 records)" in result.output
    assert "timeout" in result.output
    assert "absent" in result.output

    tolerant = runner.invoke(app, [*args, "--tolerance", "1e-9", "--show", "0"])
    assert tolerant.exit_code == 1, tolerant.output
    assert _row(tolerant.output, "knn")[4:6] == ["6", "1"]  # the 1e-12 change is the same
    assert "knn: differing" not in tolerant.output


@pytest.mark.parametrize(
    ("setup", "extra", "code", "message"),
    [
        ("missing", [], 1, "no knowledge base folder at"),
        ("empty", [], 1, "has no pmlb_records.parquet"),
        ("garbage", [], 1, "is not a readable records file"),
        ("copy", ["--tolerance", "-1"], 2, "--tolerance must be a finite number >= 0, got -1.0"),
        ("copy", ["--tolerance", "nan"], 2, "--tolerance must be a finite number >= 0"),
        ("copy", ["--show", "-1"], 2, "greater than or equal to 0"),
    ],
)
def test_kb_compare_refuses_bad_input_clearly(
    built: Built, tmp_path: Path, setup: str, extra: list[str], code: int, message: str
) -> None:
    other = tmp_path / "other"
    if setup != "missing":
        other.mkdir()
    if setup == "garbage":
        (other / "pmlb_records.parquet").write_bytes(b"not parquet")
    if setup == "copy":
        shutil.copy(built.out / "pmlb_records.parquet", other)
    result = runner.invoke(app, ["kb", "compare", str(other), "--kb", str(built.out), *extra])
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())


def _plan_with(old: str, new: str) -> str:
    assert old in PLAN
    return PLAN.replace(old, new, 1)


BAD_PLANS = [
    (None, "no plan file at"),
    ("suite = 'sklearn'\n[[steps]\n", "is not valid TOML"),
    (_plan_with('["knn", "logistic_regression"]', '["knn", "xgboost"]'), "no learner named"),
    (_plan_with("configs = 2", "configs = -2"), "steps[0].configs must be an integer >= 1, got -2"),
    (_plan_with("tasks = 2", "tasks = -1"), "steps[1].tasks must be an integer >= 1, got -1"),
    (
        _plan_with("tasks = 2", "tasks = 2\nmin_rows = 0"),
        "steps[1].min_rows must be an integer >= 1, got 0",
    ),
    (_plan_with("folds = 2", "fold = 2"), "unknown key 'fold' in steps[0]; allowed keys: learners"),
    (_plan_with("suite =", "suites ="), "unknown key 'suites'; allowed keys: suite"),
    (_plan_with('"mf-1"', '"mf-9"'), "feature_version must be one of mf-1; got 'mf-9'"),
    (_plan_with("configs = 2\n", ""), "steps[0].configs is missing"),
    (_plan_with("folds = 2\n", "folds = 2\nseeds = [-1]\n"), "steps[0].seeds must be"),
]

BAD_ARGS = [
    (["--suite", "pmlb"], 'suite = "pmlb"', "pmlb needs a folder, as in pmlb:PATH"),
    (["--suite", "pmlb:/no/such/folder"], 'suite = "pmlb"', "/no/such/folder does not exist"),
    (["--suite", "sklearn:iris"], 'suite = "pmlb"', "is for 'pmlb': give --suite pmlb:"),
    (["--learners", "svm"], None, "--learners: 'svm' is not a learner of the plan"),
    (["--workers", "0"], None, "--workers must be >= 1"),
    (["--shard", "3/2"], None, "--shard must be I/N with whole numbers 1 <= I <= N (e.g. 2/4)"),
    (["--shard", "half"], None, "--shard must be I/N with whole numbers 1 <= I <= N"),
    (["--shard", "1/2", "--no-bench"], None, "--shard chooses tasks to evaluate; --no-bench"),
]


@pytest.mark.parametrize(("text", "message"), BAD_PLANS)
def test_a_bad_plan_exits_2_naming_the_problem_and_writes_nothing(
    text: str | None, message: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.toml"
    if text is not None:
        plan.write_text(text)
    result = _build(plan, tmp_path / "out", f"sqlite:///{tmp_path / 'k.db'}")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert str(plan) in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == (["plan.toml"] if text else [])


@pytest.mark.parametrize(("extra", "suite_line", "message"), BAD_ARGS)
def test_bad_options_exit_2_naming_the_problem_and_write_nothing(
    extra: list[str], suite_line: str | None, message: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.replace('suite = "sklearn"', suite_line) if suite_line else PLAN)
    result = _build(plan, tmp_path / "out", f"sqlite:///{tmp_path / 'k.db'}", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]


def test_the_shipped_plan_loads_and_names_only_known_learners() -> None:
    plan = load_kb_plan(REPO / "kb" / "plan.toml")
    assert plan.suite == "pmlb"
    assert plan.feature_version == FEATURE_VERSION
    assert set(plan.learners) <= set(available_learners())
    assert len(plan.learners) == 8
    first = plan.steps[0]
    assert (first.learners, first.configs, first.tasks) == (("lightgbm",), 101, 169)
    *sampled, sized = plan.steps
    assert all(
        (s.folds, s.row_cap, s.time_limit, s.seeds) == (3, 2000, 120.0, (0,)) for s in sampled
    )
    # The last step: the first 12 LightGBM configs at all rows of the tasks over 2,000.
    assert (sized.learners, sized.configs, sized.min_rows, sized.row_cap) == (
        ("lightgbm",),
        12,
        2001,
        0,
    )


def test_default_kb_dir_is_kb_of_the_source_tree_which_the_wheel_ships() -> None:
    kb = default_kb_dir()
    assert kb == REPO / "kb"
    assert (kb / "pmlb_records.parquet").is_file()
    # The wheel's copy is the package data under warmstart/kb, a link to the same folder.
    assert (Path(warmstart.__file__).parent / "kb").resolve() == kb


def test_the_wheel_ships_every_file_of_the_knowledge_base() -> None:
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["warmstart"]
    kb = REPO / "kb"
    for path in kb.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        relative = "kb/" + path.relative_to(kb).as_posix()
        assert any(fnmatch(relative, p) for p in package_data), f"{relative} is not shipped"


def _records_file(folder: Path, scores: list[float | None], statuses: list[str]) -> Path:
    folder.mkdir()
    n = len(scores)
    columns = {
        "space_name": ["svm"] * n,
        "task_id": ["t1"] * n,
        "config_hash": ["a", "b", "c", "c"][:n],  # c twice: two client reports of one config
        "seed": [0] * n,
        "fidelity": [1.0] * n,
        "source": ["benchmark", "benchmark", "client", "client"][:n],
        "task_name": ["pmlb/t1"] * n,
        "status": statuses,
        "score": scores,
    }
    pq.write_table(pa.table(columns), folder / "pmlb_records.parquet")
    return folder


def test_kb_compare_tolerance_is_relative_to_large_scores_and_pairs_repeated_keys(
    tmp_path: Path,
) -> None:
    ok = ["ok"] * 4
    ours = _records_file(tmp_path / "ours", [-2.0e6, 0.5, 0.1, 0.2], ok)
    theirs = _records_file(tmp_path / "theirs", [-2.0e6 + 1.0, 0.5 + 1e-7, 0.1, 0.2], ok)
    loose, _ = _kb_compare.compare_records(ours, theirs, tolerance=1e-6)
    assert (loose[0].same, loose[0].changed) == (4, 0)  # 1 in 2e6 and 1e-7 are within 1e-6
    assert loose[0].largest_gap == pytest.approx(5e-7)  # 1 / 2e6
    strict, _ = _kb_compare.compare_records(ours, theirs, tolerance=1e-8)
    assert (strict[0].same, strict[0].changed) == (2, 2)

    swapped = _records_file(tmp_path / "swapped", [-2.0e6, 0.5, 0.2, 0.1], ok)
    paired, _ = _kb_compare.compare_records(ours, swapped)
    assert (paired[0].same, paired[0].changed) == (2, 2)  # repeated keys pair in file order

    failed = _records_file(
        tmp_path / "failed", [-2.0e6, None, 0.1, 0.2], ["ok", "timeout", *ok[2:]]
    )
    result, _ = _kb_compare.compare_records(ours, failed)
    assert (result[0].changed, result[0].theirs_not_ok) == (1, 1)
    assert result[0].differences[0].ours == ("ok", 0.5)
    assert result[0].differences[0].theirs is not None
    assert result[0].differences[0].theirs[0] == "timeout"
