"""warmstart.benchmarks.studies.fit_time on a world whose fit times grow with rows and classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metamodel.synthetic_world import SPACE
from tests.metamodel.test_fit_time import _world
from warmstart.benchmarks.studies.fit_time import main
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import Task, TaskType


def test_the_margin_covers_more_slow_fits_than_the_prediction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features, records = _world(30, seed=6, noise=0.5)
    db = f"sqlite:///{tmp_path / 'timed.db'}"
    with RecordStore.open(db) as store:
        store.add_all(
            tasks=[
                Task(
                    t, f"synthetic/{t}", TaskType.MULTICLASS, "test", 1_000, 3, family=f"f{i % 10}"
                )
                for i, t in enumerate(features)
            ],
            spaces=[SPACE],
            records=records,
        )
        store.put_task_features(features.values())
    main(["--db", db, "--space", SPACE.name, "--feature-version", "test-time"])
    out = capsys.readouterr().out.splitlines()
    margins = [float(line.split()[-1]) for line in out if line.startswith("fold ")]
    assert len(margins) == 5
    assert all(m > 1.0 for m in margins)
    row = next(line for line in out if line.startswith("| >= 1 s"))
    alone, padded = (float(v) for v in row.strip("|").split("|")[2:4])
    # Noise of sigma 0.5 around the truth: the prediction alone covers about half the
    # slow fits, times the margin most of them.
    assert padded > 0.8 > alone
