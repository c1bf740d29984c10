"""warmstart.benchmarks.studies.learner_probes: the study, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import require_pmlb
from warmstart.benchmarks.studies.learner_probes import main


@pytest.mark.slow
def test_the_study_chooses_inside_prints_every_variant_and_caches(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "probes.json"
    args = ["--db", db, "--folds", "3", "--inner-folds", "2", "--probes", "2"]
    args += ["--probe-rows", "60", "--suite", f"pmlb:{require_pmlb()}", "--cache", str(cache)]
    main(args)
    lines = capsys.readouterr().out.splitlines()
    assert "2 probes a fold on 60 rows, 3-fold CV, seed 1" in lines[0]
    assert sum(line.startswith("fold ") for line in lines) == 3
    table = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}
    assert {"meta-features", "meta-features and probes", "chosen on inner folds"} <= set(table)
    assert "Spearman, probe configs left out" in table["features"]
    pool = lines[lines.index("| method | regret@1 | regret@3 | regret@5 | regret@10 |") :]
    methods = {line.split("|")[1].strip(): line.split("|")[2:6] for line in pool[2:]}
    assert "warmstart, meta-features and probes" in methods
    assert "greedy portfolio" in methods
    assert "nearest neighbour, meta-features and probes" in methods
    for label, cells in methods.items():
        regrets = [float(c) for c in cells]
        assert all(0.0 <= r <= 1.0 for r in regrets), label
        assert regrets == sorted(regrets, reverse=True) or "warmstart" in label, label
    table = {k: v for k, v in table.items() if k in {"meta-features", "chosen on inner folds"}}
    assert all(len(row.split("|")) == 8 for row in table.values())
    saved = json.loads(cache.read_text())["rows 60, seed 1"]
    assert len(saved) == 9
    assert all(len(scores) >= 2 for scores in saved.values())
    # A second run reads every probe score from the cache: nothing left to compute.
    main(args)
    assert "computed this run, 0 tasks" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--probes", "0", "must be at least 1, got 0"),
        ("--probe-rows", "10", "must be at least 20, got 10"),
        ("--probe-seed", "x", "expected an integer, got 'x'"),
    ],
)
def test_bad_options_are_refused_naming_what_is_allowed(
    option: str, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--db", "sqlite:///nowhere.db", "--suite", "pmlb:nowhere", option, value])
    assert said in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "cannot read it as JSON"),
        ('{"rows 300, seed 1": [1, 2]}', "not a probe cache"),
        ("[]", "not a probe cache"),
    ],
)
def test_a_file_that_is_not_a_probe_cache_is_refused_and_kept(
    content: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "probes.json"
    cache.write_text(content)
    with pytest.raises(SystemExit):
        main(["--db", "sqlite:///nowhere.db", "--suite", "pmlb:nowhere", "--cache", str(cache)])
    assert said in capsys.readouterr().err
    assert cache.read_text() == content
