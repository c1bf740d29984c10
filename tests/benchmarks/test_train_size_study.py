"""warmstart.benchmarks.studies.train_size on a world where the best config moves with the rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metamodel.synthetic_world import SPACE
from tests.metamodel.test_train_size import _world
from warmstart.benchmarks.studies.train_size import main
from warmstart.metamodel.store import RecordStore
from warmstart.metamodel.types import Task, TaskType


def test_the_sized_surrogate_ranks_whole_table_configs_best(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features, everything = _world(20, seed=5)
    # As in the knowledge base: every config on a sample, a few of them on all the rows.
    few = sorted({r.config_hash for r in everything})[:10]
    records = [r for r in everything if r.fidelity < 1.0 or r.config_hash in few]
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
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{SPACE.name}: 20 held-out tasks")
    rows = {line[:14].strip(): [float(v) for v in line[14:].split()] for line in lines[2:]}
    assert set(rows) == {"sized", "as sample", "blind", "sample scores"}
    # Asked for all the rows, the sized surrogate ranks as the whole table does; asked for
    # the sample's rows, or trained on samples only, it ranks as the sample does.
    assert rows["sized"][0] > 0.8
    assert rows["as sample"][0] < 0.0
    assert rows["blind"][0] < 0.0
    assert rows["sized"][1] < rows["blind"][1]
