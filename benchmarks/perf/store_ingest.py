"""Records/s for bulk insert and for reading all records of one space, per backend.

Usage:
    python -m warmstart.benchmarks.perf.store_ingest [--records 50000] [--batch 5000]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

SQLite runs on a temporary file; PostgreSQL (skipped when unreachable) in a
temporary database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

from warmstart.metamodel.spaces import config_hash, make_search_space, sample_configs
from warmstart.metamodel.store import RecordFilter, RecordStore
from warmstart.metamodel.types import EvaluationRecord, RecordStatus, Task, TaskType


def _records(n: int) -> tuple[list[Task], object, list[EvaluationRecord]]:
    space_cs = ConfigurationSpace()
    space_cs.add(
        [
            Float("learning_rate", (1e-3, 0.5), log=True),
            Integer("num_leaves", (4, 512), log=True),
            Integer("n_estimators", (10, 2000), log=True),
            Float("subsample", (0.3, 1.0)),
            Categorical("boosting", ["gbdt", "dart"]),
        ]
    )
    space = make_search_space("bench_space", space_cs)
    n_tasks = max(n // 500, 1)
    tasks = [
        Task(f"bench-{i}", f"bench/{i}", TaskType.BINARY, "bench", 1000, 10, n_classes=2)
        for i in range(n_tasks)
    ]
    configs = sample_configs(space_cs, 500, method="random", seed=0)
    out = []
    for i in range(n):
        config = configs[i % len(configs)]
        score = 0.5 + (i % 97) / 200
        out.append(
            EvaluationRecord(
                task_id=tasks[i // 500 % n_tasks].task_id,
                space_id=space.space_id,
                config=config,
                config_hash=config_hash(config),
                score=score,
                status=RecordStatus.OK,
                metrics={"roc_auc": score, "log_loss": 0.4, "accuracy": 0.8},
                fit_seconds=0.3,
                predict_seconds=0.01,
                peak_memory_mb=50.0,
            )
        )
    return tasks, space, out


@contextmanager
def _postgres(admin_url: str) -> Iterator[str | None]:
    name = f"warmstart_perf_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        print(f"postgresql: skipped, {admin_url} unreachable ({str(exc.orig).strip()[:80]})")
        yield None
        return
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _measure(label: str, url: str, n: int, batch: int) -> None:
    tasks, space, records = _records(n)
    with RecordStore.open(url) as store:
        store.add_all(tasks=tasks, spaces=[space])  # type: ignore[list-item]
        start = time.perf_counter()
        for i in range(0, n, batch):
            store.add_records(records[i : i + batch])
        insert = time.perf_counter() - start
        start = time.perf_counter()
        again = sum(store.add_records(records[i : i + batch]) for i in range(0, n, batch))
        duplicate = time.perf_counter() - start
        start = time.perf_counter()
        read = sum(1 for _ in store.iter_records(RecordFilter(space_name="bench_space")))
        reading = time.perf_counter() - start
    if again != 0 or read != n:
        raise RuntimeError(f"store is inconsistent: {again} re-inserted, {read} of {n} read")
    print(
        f"{label:<10} insert {n / insert:>9,.0f} records/s   "
        f"re-insert (all duplicates) {n / duplicate:>9,.0f} records/s   "
        f"read one space {n / reading:>9,.0f} records/s"
    )


def main() -> None:
    """Run the measurement and print one line per backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "WARMSTART_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    print(f"{args.records:,} records in batches of {args.batch:,}")
    with tempfile.TemporaryDirectory() as tmp:
        _measure("sqlite", f"sqlite:///{Path(tmp) / 'perf.db'}", args.records, args.batch)
    with _postgres(args.postgres) as url:
        if url is not None:
            _measure("postgresql", url, args.records, args.batch)


if __name__ == "__main__":
    main()
