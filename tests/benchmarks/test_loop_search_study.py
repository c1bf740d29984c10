"""warmstart.benchmarks.studies.loop_search: variants of the loop compared on inner folds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.metamodel.synthetic_world import QUICK, SPACE, world, world_db
from warmstart.benchmarks.sequential import load_fold_split, load_recommender_by_fold
from warmstart.benchmarks.studies.loop_search import (
    choose_variant,
    main,
    paired_differences,
    parse_variant,
)


def test_variants_are_parsed_and_unknown_settings_refused() -> None:
    assert parse_variant("wide:observed_samples=64,observed_refine_scale=0.2") == (
        "wide",
        {"observed_samples": 64, "observed_refine_scale": 0.2},
    )
    assert parse_variant("base") == ("base", {})
    with pytest.raises(SystemExit, match="unknown setting 'samples'"):
        parse_variant("x:samples=3")
    with pytest.raises(SystemExit, match=r"observed_samples.*>= 0"):
        parse_variant("x:observed_samples=-1")


def test_each_fold_chooses_the_variant_with_least_inner_regret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks, records = world(24, seed=4)
    url = world_db(tmp_path, tasks, records, per_family=3)
    out = tmp_path / "choice.json"
    args = ["--db", url, "--space", SPACE.name, "--feature-version", "test-1", "--folds", "2"]
    args += ["--only-folds", "1", "--inner-folds", "2", "--inner-tasks", "2", "--trials", "8"]
    args += ["--cache", str(tmp_path / "cache"), "--out", str(out)]
    args += ["--variant", "walk:observed_from=8", "--variant", "search:observed_from=2"]
    args += ["--variant", "sampled:observed_from=2,observed_samples=32"]
    main(args, train=QUICK)
    printed = capsys.readouterr().out
    found = json.loads(out.read_text())
    assert set(found["folds"]) == {"1"}  # only the fold asked for
    settings = load_recommender_by_fold(out)
    # The split the choices were made on is recorded, so a run on another one is refused.
    assert set(found["split"]) == {"0", "1"}
    assert load_fold_split(out) == {int(f): d for f, d in found["split"].items()}
    for fold, report in found["folds"].items():
        means = {n: sum(c) / len(c) for n, c in report["mean_curves"].items()}
        assert set(means) == {"walk", "search", "sampled"}
        assert report["chosen"] == min(means, key=means.__getitem__)
        # Each variant's paired difference from the first, the reference.
        paired = report["paired"]
        assert paired["walk"] == {"difference": 0.0, "standard_error": 0.0}
        for name, found in paired.items():
            assert found["difference"] == pytest.approx(means[name] - means["walk"])
        # Every inner task's curves, whose mean over the tasks is the variant's curve.
        tasks = report["tasks"]
        assert len(tasks) == 4  # 2 inner folds x 2 tasks
        for name, curve in report["mean_curves"].items():
            per_task = [t[name] for t in tasks.values()]
            assert np.mean(per_task, axis=0) == pytest.approx(curve)
        assert f"fold {fold}: chose {report['chosen']}" in printed
        chosen = parse_variant(
            {"walk": "w:observed_from=8", "search": "s:observed_from=2"}.get(
                report["chosen"], "x:observed_from=2,observed_samples=32"
            )
        )[1]
        for field, value in chosen.items():
            assert getattr(settings[int(fold)], field) == value


def test_paired_differences_are_per_task_against_the_reference() -> None:
    curves = {
        "base": [np.array([0.4, 0.2]), np.array([0.2, 0.2]), np.array([0.6, 0.4])],
        "new": [np.array([0.2, 0.2]), np.array([0.2, 0.0]), np.array([0.4, 0.4])],
    }
    paired = paired_differences(curves, "base")
    assert paired["base"] == (0.0, 0.0)
    diff, se = paired["new"]
    # Per task: -0.1, -0.1, -0.1: the same gain on every task, no spread.
    assert diff == pytest.approx(-0.1)
    assert se == pytest.approx(0.0, abs=1e-12)


def test_a_variant_replaces_the_reference_only_beyond_the_margin() -> None:
    paired = {"base": (0.0, 0.0), "a": (-0.002, 0.001), "b": (-0.001, 0.0001)}
    assert choose_variant(["base", "a", "b"], paired, 0.0) == "a"
    assert choose_variant(["base", "a", "b"], paired, 1.9) == "a"
    # a's gain is 2 standard errors: a margin of 2 keeps the reference.
    assert choose_variant(["base", "a", "b"], paired, 2.0) == "base"
    assert choose_variant(["base", "a"], {"base": (0.0, 0.0), "a": (0.001, 0.0)}, 0.0) == "base"
    # Ties go to the earlier variant.
    assert choose_variant(["base", "a"], {"base": (0.0, 0.0), "a": (0.0, 0.0)}, 0.0) == "base"


def test_a_negative_margin_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--db", "sqlite:///nowhere.db", "--margin", "-1"])
    assert "--margin must be a number >= 0, but got -1.0" in capsys.readouterr().err
