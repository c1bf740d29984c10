"""warmstart.benchmarks.studies.noise_ceiling: replicates, and what noise does to the figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.factories import require_pmlb
from warmstart.benchmarks.probes import config_scores
from warmstart.benchmarks.runner import Protocol
from warmstart.benchmarks.studies.noise_ceiling import ceiling, main
from warmstart.metamodel.evaluation import RankedTask
from warmstart.metamodel.portfolio import config_means
from warmstart.metamodel.store import RecordFilter, RecordStore


def _world(noise: float, seed: int = 0) -> tuple[list[RankedTask], np.ndarray]:
    """40 tasks in 4 folds over 20 configs: true scores share a global ranking plus a task
    part; each seed measures them with independent noise. Also returns the true scores."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=20)
    truth = np.array([shared + rng.normal(size=20) for _ in range(40)])
    hashes = [f"c{i}" for i in range(20)]
    tasks = [
        RankedTask(
            fold=i % 4,
            hashes=hashes,
            scores={
                "predicted": truth[i],  # a model that knows each task's true scores
                "stored": truth[i] + noise * rng.normal(size=20),
                "replicate": truth[i] + noise * rng.normal(size=20),
            },
        )
        for i in range(40)
    ]
    return tasks, truth


def test_noise_lowers_measured_agreement_and_the_correction_recovers_most_of_it() -> None:
    exact, _ = _world(noise=0.0)
    clean = ceiling(exact)
    assert clean.replicate == pytest.approx(1.0)
    # Without noise, a model that knows the truth agrees across tasks exactly as measured.
    assert clean.predicted_agreement == pytest.approx(clean.stored_agreement)
    assert clean.corrected_agreement == pytest.approx(clean.stored_agreement)
    noisy = ceiling(_world(noise=0.8)[0])
    # Noise: the perfect model looks too uniform across tasks and short of 1 within a task,
    # and no better than a second measurement can do.
    assert noisy.replicate < 0.8
    assert noisy.stored_agreement < noisy.predicted_agreement - 0.1
    assert noisy.model_vs_stored < 0.95
    assert noisy.model_vs_mean > noisy.model_vs_stored
    assert noisy.mean_agreement > noisy.stored_agreement
    # The correction puts the measured agreement back near the true one.
    true_gap = abs(noisy.corrected_agreement - clean.stored_agreement)
    assert true_gap < abs(noisy.stored_agreement - clean.stored_agreement) / 2


@pytest.mark.slow
def test_the_records_seed_reproduces_the_stored_scores(db: str) -> None:
    with RecordStore.open(db) as store:
        space = store.find_space("lightgbm")
        task = next(t for t in store.list_tasks() if t.name == "pmlb/iris")
        records = store.get_records(RecordFilter(space_id=space.space_id, task_id=task.task_id))
    stored = config_means(records)
    configs = {r.config_hash: dict(r.config) for r in records}
    hashes = sorted(stored)

    def scores(seed: int) -> list[float]:
        pool = [configs[h] for h in hashes]
        protocol = Protocol(folds=2, row_cap=300)
        scores, seconds = config_scores(
            f"pmlb:{require_pmlb()}", "iris", "lightgbm", space.space_id, pool, protocol, seed
        )
        assert seconds > 0
        return scores

    assert scores(0) == pytest.approx([stored[h] for h in hashes])
    other = scores(1)
    assert other != pytest.approx([stored[h] for h in hashes])


@pytest.mark.slow
def test_the_study_prints_the_figures_and_writes_every_task(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ceiling.json"
    args = ["--db", db, "--space", "lightgbm", "--folds", "3", "--tasks-per-fold", "2"]
    main([*args, "--suite", f"pmlb:{require_pmlb()}", "--out", str(out)])
    lines = capsys.readouterr().out.splitlines()
    assert "2-fold CV, rows capped at 300, stored seed 0 against seed 1" in lines[0]
    figures = {line.split("|")[1].strip(): line.split("|")[2] for line in lines[3:]}
    assert len(figures) == 10
    replicate = float(figures["Spearman, the replicate vs the stored scores"])
    assert -1.0 <= replicate <= 1.0
    saved = json.loads(out.read_text())
    assert saved["replicate_seed"] == 1
    assert 1 <= len(saved["tasks"]) <= 6
    for task in saved["tasks"]:
        assert len(task["configs"]) == len(task["stored"]) == len(task["replicate"]) >= 5
    with pytest.raises(SystemExit):
        main([*args, "--suite", f"pmlb:{require_pmlb()}", "--replicate-seed", "0"])


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--tasks-per-fold", "0", "must be at least 1, got 0"),
        ("--workers", "two", "expected an integer, got 'two'"),
        ("--folds", "1", "must be at least 2, got 1"),
        ("--replicate-seed", "-1", "must be at least 0, got -1"),
    ],
)
def test_bad_options_are_refused_naming_what_is_allowed(
    option: str, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--db", "sqlite:///nowhere.db", "--suite", "pmlb:nowhere", option, value])
    assert said in capsys.readouterr().err
