"""warmstart.benchmarks.studies.learner_probes: probe choice, probe features, the study."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.factories import require_pmlb
from warmstart.benchmarks.studies.learner_probes import choose_probes, main, probe_features
from warmstart.metamodel.spaces import config_hash
from warmstart.metamodel.types import EvaluationRecord, TaskFeatures


def _records(scores: np.ndarray, seconds: list[float]) -> list[EvaluationRecord]:
    """Records of tasks (rows) x configs (columns), config i being ``{"x": i}``."""
    out = []
    for t, row in enumerate(scores):
        for c, score in enumerate(row):
            if np.isfinite(score):
                config = {"x": c}
                out.append(
                    EvaluationRecord(
                        task_id=f"t{t}",
                        space_id="s",
                        config=config,
                        config_hash=config_hash(config),
                        score=float(score),
                        fit_seconds=seconds[c],
                    )
                )
    return out


def test_probes_are_cheap_covered_and_span_different_task_rankings() -> None:
    rng = np.random.default_rng(0)
    n_tasks = 30
    kind = rng.integers(0, 2, n_tasks)
    scores = np.empty((n_tasks, 6))
    scores[:, 0] = 0.5  # the default: the same middling score everywhere
    scores[:, 1] = np.where(kind == 1, 1.0, 0.0)  # wins on kind-1 tasks
    scores[:, 2] = scores[:, 1] + 0.01  # a near copy of config 1
    scores[:, 3] = rng.normal(size=n_tasks)  # its own ranking
    scores[:, 4] = np.where(kind == 0, 1.0, 0.0)  # wins on kind 0, but slow
    scores[:, 5] = np.where(kind == 0, 0.9, 0.1)
    scores[: n_tasks // 2, 5] = np.nan  # covered on half the tasks only
    seconds = [1.0, 1.0, 1.0, 1.0, 50.0, 1.0]
    probes = choose_probes(_records(scores, seconds), 3, {"x": 0})
    picked = [config["x"] for _, config in probes]
    assert picked[0] == 0  # the default first
    assert 4 not in picked  # too slow
    assert 5 not in picked  # too rarely evaluated
    assert not {1, 2} <= set(picked)  # not two copies of one ranking
    assert 3 in picked
    assert [h for h, _ in probes] == [config_hash({"x": x}) for x in picked]


def test_probe_features_are_relative_scores_and_their_mean() -> None:
    base = TaskFeatures("t", "mf-1", ("n_rows",), (100.0,))
    out = probe_features(base, ["a", "b", "c"], {"a": 0.9, "b": 0.7})
    values = out.as_dict()
    assert out.version == "mf-1+probes"
    assert values["n_rows"] == 100.0
    assert values["probe_mean"] == pytest.approx(0.8)
    assert values["probe_0"] == pytest.approx(0.1)
    assert values["probe_1"] == pytest.approx(-0.1)
    assert math.isnan(values["probe_2"])
    nothing = probe_features(base, ["a"], {}).as_dict()
    assert math.isnan(nothing["probe_0"])
    assert math.isnan(nothing["probe_mean"])


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
