"""`warmstart kb build | info | compare`: options parsed, the library called, its reports printed.

What a build does is tested on the library (tests/benchmarks/test_kb_*.py); here
one small build (logistic regression on one task) is made once per module and
the commands' output is read.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from tests.benchmarks.kb_plan import PLAN, SUITE
from warmstart.benchmarks.kb import _write as kb_write
from warmstart.service.cli import app

runner = CliRunner()
# Logistic regression on the first of the three tasks: two evaluations, too few to train.
PART = ("--learners", "logistic_regression", "--shard", "1/2")


@dataclass(frozen=True)
class Built:
    plan: Path
    db: str
    out: Path
    output: str


def _build(plan: Path, out: Path, db: str, *extra: str) -> Result:
    args = ["kb", "build", "--suite", SUITE, "--plan", str(plan), "--out", str(out)]
    return runner.invoke(app, [*args, "--db", db, "--workers", "1", *extra])


def _row(output: str, space: str) -> list[str]:
    line = next(line for line in output.splitlines() if f"│ {space} " in line)
    return [cell.strip() for cell in line.split("│")[2:-1]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("kb")
    plan = root / "plan.toml"
    plan.write_text(PLAN)
    db = f"sqlite:///{root / 'kb.db'}"
    result = _build(plan, root / "out", db, *PART)
    assert result.exit_code == 0, result.output
    return Built(plan, db, root / "out", result.output)


def test_build_prints_each_step_its_run_and_what_it_wrote(built: Built) -> None:
    output = built.output
    assert "steps[0] of 2: knn, logistic_regression: 2 configs, all tasks, 2 folds" in output
    assert "only logistic_regression (--learners)" in output
    assert "only part 1 of 2 of its tasks (--shard)" in output
    assert "1 tasks x 1 learners x 2 configs x 1 seeds = 2 evaluations" in output
    assert "0 already stored, 2 to run" in output
    assert "evaluations this run" in output
    assert "steps[1] of 2: knn: 3 configs, at most 2 tasks" in output
    assert "skipped: none of its learners is in --learners" in output
    assert "evaluations done: 2 new records in this build" in output
    assert "exported 2 records of 1 spaces and the meta-features of 1 tasks" in output
    assert "warning: no model of logistic_regression" in output
    assert f"knowledge base written to {built.out}" in " ".join(output.split())
    provenance = json.loads((built.out / "provenance.json").read_text())
    assert provenance["command"].startswith("warmstart ")
    assert (provenance["learners"], provenance["shard"]) == (["logistic_regression"], "1/2")


def test_a_rerun_prints_that_there_is_nothing_to_do(built: Built, tmp_path: Path) -> None:
    result = _build(built.plan, tmp_path / "out", built.db, *PART)
    assert result.exit_code == 0, result.output
    assert "2 already stored, 0 to run" in result.output
    assert "nothing to do" in result.output
    assert "evaluations done: 0 new records" in result.output


def test_an_interrupted_build_exits_130_saying_what_was_kept(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as SIGTERM or Ctrl-C during training

    monkeypatch.setattr(kb_write, "train_bundle", stopped)
    result = _build(built.plan, tmp_path / "out", built.db, "--no-bench")
    assert result.exit_code == 130, result.output
    assert "interrupted: finished evaluations are saved and nothing in" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("extra", "plan_text", "message"),
    [
        ([], None, "no plan file at"),
        ([], PLAN.replace("configs = 2", "configs = -2"), "steps[0].configs must be an integer"),
        (["--learners", "svm"], PLAN, "--learners: 'svm' is not a learner of the plan"),
        (["--learners", ","], PLAN, "--learners names no learner"),
        (["--workers", "0"], PLAN, "--workers must be >= 1"),
        (["--shard", "half"], PLAN, "--shard must be I/N with whole numbers 1 <= I <= N"),
        (["--shard", "1/2", "--no-bench"], PLAN, "--shard chooses tasks to evaluate; --no-bench"),
        (["--suite", "sklearn:iris"], PLAN, "got 2 without a name"),
        (["--suite", "big=sklearn:iris"], PLAN, "has no suite 'big'"),
    ],
)
def test_bad_options_exit_2_naming_the_problem_and_write_nothing(
    extra: list[str], plan_text: str | None, message: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.toml"
    if plan_text is not None:
        plan.write_text(plan_text)
    result = _build(plan, tmp_path / "out", f"sqlite:///{tmp_path / 'k.db'}", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == (["plan.toml"] if plan_text else [])


def test_kb_info_prints_the_counts_and_the_files_checks(built: Built, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(built.out, kb)
    result = runner.invoke(app, ["kb", "info", "--kb", str(kb)])
    assert result.exit_code == 0, result.output
    assert _row(result.output, "logistic_regression") == ["1", "2", "2", "0", "0", "-"]
    assert "all 2 files match provenance.json" in result.output

    with (kb / "pmlb_features.parquet").open("ab") as handle:
        handle.write(b"\0")
    changed = runner.invoke(app, ["kb", "info", "--kb", str(kb)])
    assert changed.exit_code == 1, changed.output
    assert "changed" in changed.output
    assert "1 of 2 files do not match provenance.json: pmlb_features.parquet" in changed.output

    (kb / "provenance.json").unlink()
    bare = runner.invoke(app, ["kb", "info", "--kb", str(kb)])
    assert bare.exit_code == 0, bare.output
    assert "no provenance.json; counts from pmlb_records.parquet" in bare.output
    assert _row(bare.output, "logistic_regression")[:5] == ["1", "2", "2", "0", "0"]
    assert "nothing to check the hashes against" in bare.output

    missing = runner.invoke(app, ["kb", "info", "--kb", str(tmp_path / "nope")])
    assert missing.exit_code == 1, missing.output
    assert "no knowledge base folder at" in missing.output


def test_kb_compare_prints_the_table_and_what_differs(built: Built, tmp_path: Path) -> None:
    same = runner.invoke(app, ["kb", "compare", str(built.out), "--kb", str(built.out)])
    assert same.exit_code == 0, same.output
    assert _row(same.output, "logistic_regression")[:8] == ["2", "2", "0", "0", "2", "0", "0", "0"]
    assert "all 2 records of 1 spaces are the same" in same.output

    other = tmp_path / "other"
    shutil.copytree(built.out, other)
    table = pq.read_table(other / "pmlb_records.parquet")
    rows = table.to_pylist()
    rows[0]["status"], rows[0]["score"] = "timeout", None
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), other / "pmlb_records.parquet")
    args = ["kb", "compare", str(other), "--kb", str(built.out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert _row(result.output, "logistic_regression")[:8] == [
        "2",
        "2",
        "0",
        "1",
        "1",
        "1",
        "0",
        "0",
    ]
    assert "logistic_regression: differing" in result.output
    assert "1 of 1 spaces differ: logistic_regression (1 records)" in result.output
    quiet = runner.invoke(app, [*args, "--show", "0"])
    assert quiet.exit_code == 1, quiet.output
    assert "logistic_regression: differing" not in quiet.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tolerance", "-1"], "--tolerance must be a finite number >= 0, got -1.0"),
        (["--show", "-1"], "greater than or equal to 0"),
    ],
)
def test_kb_compare_refuses_bad_options_with_exit_2(
    built: Built, extra: list[str], message: str
) -> None:
    result = runner.invoke(app, ["kb", "compare", str(built.out), "--kb", str(built.out), *extra])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
