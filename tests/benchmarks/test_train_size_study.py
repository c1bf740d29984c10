"""warmstart.benchmarks.studies.train_size on a world where the best config moves with the rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.factories import ok_record
from tests.metamodel.synthetic_world import CS, SPACE
from tests.metamodel.test_train_size import NAMES, SAMPLE, _score, _world
from warmstart.benchmarks.studies.train_size import main
from warmstart.metamodel.spaces import sample_configs
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import EvaluationRecord, Task, TaskFeatures, TaskType


def _run(
    tmp_path: Path, features: dict[str, TaskFeatures], records: list[EvaluationRecord]
) -> None:
    with RecordStore.open(f"sqlite:///{tmp_path / 'sizes.db'}") as store:
        store.add_all(
            tasks=[
                Task(t, f"synthetic/{t}", TaskType.BINARY, "test", 10_000, 2, family=f"f{i % 10}")
                for i, t in enumerate(features)
            ],
            spaces=[SPACE],
            records=records,
        )
        store.put_task_features(features.values())
    main(
        [
            "--db",
            f"sqlite:///{tmp_path / 'sizes.db'}",
            "--space",
            SPACE.name,
            "--feature-version",
            "test-size",
        ]
    )


def _rows(lines: list[str]) -> dict[str, list[float]]:
    return {line[:14].strip(): [float(v) for v in line[14:].split()] for line in lines}


def test_the_sized_surrogate_ranks_whole_table_configs_best(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features, everything = _world(20, seed=5)
    # As in the knowledge base: every config on a sample, a few of them on all the rows.
    few = sorted({r.config_hash for r in everything})[:10]
    records = [r for r in everything if r.fidelity < 1.0 or r.config_hash in few]
    _run(tmp_path, features, records)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{SPACE.name}: 20 held-out tasks")
    assert len(lines) == 6  # no task is measured at more than 50,000 rows
    rows = _rows(lines[2:])
    assert set(rows) == {"sized", "as sample", "blind", "sample scores"}
    # Asked for all the rows, the sized surrogate ranks as the whole table does; asked for
    # the sample's rows, or trained on samples only, it ranks as the sample does.
    assert rows["sized"][0] > 0.8
    assert rows["as sample"][0] < 0.0
    assert rows["blind"][0] < 0.0
    assert rows["sized"][1] < rows["blind"][1]


def test_capped_tables_are_ranked_at_their_largest_size_and_counted_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tables of 20,000 to 200,000 rows, evaluated on a sample and at most 60,000 rows (as
    # the plan caps the largest tables): the larger size is the one to rank at.
    rng = np.random.default_rng(7)
    configs = sample_configs(CS, 30, method="random", seed=7)
    features, records = {}, []
    for i in range(20):
        task_id = f"capped-{i}"
        n_rows = int(rng.integers(20_000, 200_000))
        features[task_id] = TaskFeatures(
            task_id, "test-size", NAMES, (math.log(n_rows), rng.random())
        )
        for rows in (SAMPLE, min(n_rows, 60_000)):
            for config in configs:
                score = _score(config, rows) + rng.normal(0, 0.005)
                records.append(ok_record(task_id, SPACE, config, score, fidelity=rows / n_rows))
    _run(tmp_path, features, records)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{SPACE.name}: 20 held-out tasks")
    n_large = sum(1 for f in features.values() if math.exp(f.values[0]) > 50_000)
    assert lines[6] == f"{n_large} of them measured at more than 50,000 rows"
    every, large = _rows(lines[2:6]), _rows(lines[8:12])
    for table in (every, large):
        # Ranked at the capped size, where a large C wins: the sized surrogate asked for
        # those rows ranks as they do, the sample's scores the other way round.
        assert table["sized"][0] > 0.8
        assert table["sample scores"][0] < 0.0
