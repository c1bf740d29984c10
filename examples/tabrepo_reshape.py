"""Reshape TabRepo's early LightGBM table into warmstart's records and features files.

The one step of docs/BYO_METADATA.md that is not a ``warmstart`` command: it turns
another project's files, as that project stores them, into the two Parquet formats
warmstart imports. Nothing is judged here; warmstart's import validates every row.

Reads, from SOURCE (``shared/datasets/tabrepo-early``):

- ``results_ranked_by_dataset_valid.csv``: one row per (OpenML task, config) with
  ``metric_error`` (lower is better);
- ``configs_lightgbm.json``: each config's hyperparameters in AutoGluon's names,
  listing only what it changes from AutoGluon's LightGBM defaults;
- ``task_metadata.csv``: OpenML qualities per task.

Writes, into OUT:

- ``tabrepo_records.parquet`` (docs/RECORDS_FORMAT.md): the errors as they are, to be
  imported with ``--lower-is-better``, and the partial configs as they are, to be
  imported with ``--fill-defaults``; the space ``tabrepo_lightgbm`` has AutoGluon's
  defaults as its defaults;
- ``tabrepo_features.parquet`` (the features format): the numeric OpenML qualities
  of each task with results, as the feature set ``openml-q1``;
- ``query_<name>.json``: the qualities of one task with no results (a new task),
  for ``warmstart suggest --features``.

Usage: ``python examples/tabrepo_reshape.py SOURCE OUT``
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

from warmstart.metamodel.spaces import make_search_space
from warmstart.metamodel.store import COLUMNS, write_task_features
from warmstart.metamodel.types import TaskFeatures

SPACE_NAME = "tabrepo_lightgbm"
FEATURE_VERSION = "openml-q1"
QUALITIES = (
    "NumberOfInstances",
    "NumberOfFeatures",
    "NumberOfClasses",
    "NumberOfNumericFeatures",
    "NumberOfSymbolicFeatures",
    "NumberOfMissingValues",
    "NumberOfInstancesWithMissingValues",
    "MajorityClassSize",
    "MinorityClassSize",
    "MaxNominalAttDistinctValues",
)
"""The numeric OpenML qualities of task_metadata.csv, the names of ``openml-q1``."""

_TASK_TYPES = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}


def tabrepo_space() -> ConfigurationSpace:
    """AutoGluon's LightGBM hyperparameters as TabRepo varies them; defaults are AutoGluon's."""
    space = ConfigurationSpace()
    space.add(
        [
            Float("learning_rate", (5e-3, 0.2), log=True, default=0.05),
            Integer("num_leaves", (16, 255), log=True, default=31),
            Float("feature_fraction", (0.4, 1.0), default=1.0),
            Integer("min_data_in_leaf", (2, 60), log=True, default=20),
            Categorical("extra_trees", [False, True], default=False),
        ]
    )
    return space


def _number(text: str | None) -> float:
    return float(text) if text and text.strip() else math.nan


def _count(meta: dict[str, Any], quality: str) -> int | None:
    value = _number(meta.get(quality, ""))
    return None if math.isnan(value) else int(value)


def _read_qualities(path: Path) -> dict[int, dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {int(row["tid"]): row for row in csv.DictReader(handle)}


def _task_id(tid: int) -> str:
    return f"openml-task-{tid}"


def reshape(source: Path, out: Path) -> dict[str, Any]:
    """Write the records, features and query files; return what was written."""
    out.mkdir(parents=True, exist_ok=True)
    space = make_search_space(SPACE_NAME, tabrepo_space())
    configs = json.loads((source / "configs_lightgbm.json").read_text(encoding="utf-8"))
    hyper = {
        name: {k: v for k, v in entry["hyperparameters"].items() if k != "ag_args"}
        for name, entry in configs.items()
    }
    qualities = _read_qualities(source / "task_metadata.csv")
    rows: list[dict[str, Any]] = []
    tids: set[int] = set()
    with (source / "results_ranked_by_dataset_valid.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            tid = int(row["dataset"])
            tids.add(tid)
            meta = qualities.get(tid, {})
            rows.append(
                {
                    "task_id": _task_id(tid),
                    "task_name": meta.get("name") or _task_id(tid),
                    "task_type": _TASK_TYPES[row["problem_type"]],
                    "task_source": "openml",
                    "task_n_rows": _count(meta, "NumberOfInstances"),
                    "task_n_features": _count(meta, "NumberOfFeatures"),
                    "task_n_classes": _count(meta, "NumberOfClasses") or None,
                    "space_name": space.name,
                    "space_definition": space.definition,
                    "config": json.dumps(hyper[row["framework"]], sort_keys=True),
                    "score": float(row["metric_error"]),
                    "status": "ok",
                    "metrics": json.dumps({"metric_error": float(row["metric_error"])}),
                    "fit_seconds": float(row["time_train_s"]),
                    "predict_seconds": float(row["time_infer_s"]),
                    "external_id": f"tabrepo/{tid}/{row['framework']}",
                }
            )
    schema = pa.schema([pa.field(name, COLUMNS[name]) for name in rows[0]])
    records_path = out / "tabrepo_records.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), records_path)
    described = sorted(t for t in tids if t in qualities)
    features = [
        TaskFeatures(
            _task_id(tid),
            FEATURE_VERSION,
            QUALITIES,
            tuple(_number(qualities[tid][q]) for q in QUALITIES),
        )
        for tid in described
    ]
    names = {_task_id(t): qualities[t]["name"] for t in described}
    features_path = out / "tabrepo_features.parquet"
    write_task_features(features, features_path, names)
    new = min(t for t in qualities if t not in tids)
    query = {q: _number(qualities[new][q]) for q in QUALITIES}
    query_path = out / f"query_{qualities[new]['name']}.json"
    query_path.write_text(
        json.dumps({k: (None if math.isnan(v) else v) for k, v in query.items()}, indent=1) + "\n"
    )
    return {
        "records": len(rows),
        "tasks": len(tids),
        "configs": len(hyper),
        "features": len(features),
        "tasks_without_qualities": len(tids) - len(described),
        "records_path": records_path,
        "features_path": features_path,
        "query_path": query_path,
    }


def main() -> None:
    """Parse SOURCE and OUT, reshape, say what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the tabrepo-early folder")
    parser.add_argument("out", type=Path, help="where to write the Parquet and JSON files")
    args = parser.parse_args()
    done = reshape(args.source, args.out)
    print(
        f"{done['records']} records ({done['tasks']} tasks x {done['configs']} configs) -> "
        f"{done['records_path']}\n"
        f"{FEATURE_VERSION} qualities of {done['features']} tasks "
        f"({done['tasks_without_qualities']} have none) -> {done['features_path']}\n"
        f"a new task's qualities -> {done['query_path']}"
    )


if __name__ == "__main__":
    main()
