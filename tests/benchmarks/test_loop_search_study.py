"""warmstart.benchmarks.studies.loop_search: variants of the loop compared on inner folds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.metamodel.synthetic_world import QUICK, SPACE, world, world_db
from warmstart.benchmarks.sequential import load_fold_split, load_recommender_by_fold
from warmstart.benchmarks.studies.loop_search import main, parse_variant


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
        assert f"fold {fold}: chose {report['chosen']}" in printed
        chosen = parse_variant(
            {"walk": "w:observed_from=8", "search": "s:observed_from=2"}.get(
                report["chosen"], "x:observed_from=2,observed_samples=32"
            )
        )[1]
        for field, value in chosen.items():
            assert getattr(settings[int(fold)], field) == value
