"""Task suites: the datasets the benchmark runner evaluates learners on.

A suite lists its tasks cheaply and loads one at a time. Kinds: a folder of
table files (the PMLB suite is one), scikit-learn's bundled datasets, seeded
synthetic families, and OpenML by id. :func:`load_suite` builds one from a
spec string such as ``"pmlb:/data/pmlb"`` or ``"synthetic:n=20,seed=0"``.
"""

from __future__ import annotations

from warmstart.benchmarks.tasks._arff import ArffTable, read_arff
from warmstart.benchmarks.tasks._base import Suite, TaskData, TaskInfo
from warmstart.benchmarks.tasks._build import (
    build_task_data,
    compute_task_id,
    infer_task_type,
    split_target,
)
from warmstart.benchmarks.tasks._files import (
    MANIFEST_NAME,
    SUPPORTED_EXTENSIONS,
    FolderSuite,
    read_table,
)
from warmstart.benchmarks.tasks._openml import OpenMLSuite
from warmstart.benchmarks.tasks._registry import available_suite_kinds, load_suite, parse_suite_spec
from warmstart.benchmarks.tasks._sklearn import SKLEARN_DATASETS, SklearnSuite
from warmstart.benchmarks.tasks._synthetic import SyntheticSpec, SyntheticSuite

__all__ = [
    "MANIFEST_NAME",
    "SKLEARN_DATASETS",
    "SUPPORTED_EXTENSIONS",
    "ArffTable",
    "FolderSuite",
    "OpenMLSuite",
    "SklearnSuite",
    "Suite",
    "SyntheticSpec",
    "SyntheticSuite",
    "TaskData",
    "TaskInfo",
    "available_suite_kinds",
    "build_task_data",
    "compute_task_id",
    "infer_task_type",
    "load_suite",
    "parse_suite_spec",
    "read_arff",
    "read_table",
    "split_target",
]
