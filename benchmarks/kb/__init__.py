"""The knowledge base: its layout, its plan, building it, comparing and describing it.

- Layout (:class:`KnowledgeBase`, :func:`default_kb_dir`, the ``KB_*`` file names).
- The plan (:func:`load_kb_plan` reads ``kb/plan.toml`` into a :class:`KbPlan`).
- The build (:class:`KbBuild` runs a :class:`KbBuildRequest` on a store and
  returns a :class:`KbBuildResult`).
- :func:`compare_records`: two folders' records, record by record.
- :func:`kb_info`: what a folder holds, its files checked against provenance.

The layout names load at once (the server and ``quickstart`` use them); the
others load on first use, since they bring in the runner, pandas and training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warmstart.benchmarks.kb._layout import (
    KB_FEATURES,
    KB_MODELS,
    KB_PLAN,
    KB_PROVENANCE,
    KB_RECORDS,
    KnowledgeBase,
    default_kb_dir,
    file_sha256,
    kb_files,
    source_root,
)
from warmstart.metamodel.lazy import lazy_names

if TYPE_CHECKING:
    from warmstart.benchmarks.kb._build import (
        BuildObserver,
        KbBuild,
        KbBuildRequest,
        KbBuildResult,
        StepRun,
        resolve_out_dir,
    )
    from warmstart.benchmarks.kb._compare import (
        Difference,
        KbComparison,
        SpaceComparison,
        compare_records,
    )
    from warmstart.benchmarks.kb._info import (
        FileCheck,
        KbInfo,
        kb_info,
        read_records_columns,
        records_counts,
    )
    from warmstart.benchmarks.kb._plan import KbPlan, KbStep, load_kb_plan, split_suite_options
    from warmstart.benchmarks.kb._write import SpaceBuilt, SpaceCounts

_LAZY = {
    **dict.fromkeys(
        ("BuildObserver", "KbBuild", "KbBuildRequest", "KbBuildResult", "StepRun"),
        "warmstart.benchmarks.kb._build",
    ),
    "resolve_out_dir": "warmstart.benchmarks.kb._build",
    **dict.fromkeys(
        ("Difference", "KbComparison", "SpaceComparison", "compare_records"),
        "warmstart.benchmarks.kb._compare",
    ),
    **dict.fromkeys(
        ("FileCheck", "KbInfo", "kb_info", "read_records_columns", "records_counts"),
        "warmstart.benchmarks.kb._info",
    ),
    **dict.fromkeys(
        ("KbPlan", "KbStep", "load_kb_plan", "split_suite_options"),
        "warmstart.benchmarks.kb._plan",
    ),
    **dict.fromkeys(("SpaceBuilt", "SpaceCounts"), "warmstart.benchmarks.kb._write"),
}

__all__ = [
    "KB_FEATURES",
    "KB_MODELS",
    "KB_PLAN",
    "KB_PROVENANCE",
    "KB_RECORDS",
    "BuildObserver",
    "Difference",
    "FileCheck",
    "KbBuild",
    "KbBuildRequest",
    "KbBuildResult",
    "KbComparison",
    "KbInfo",
    "KbPlan",
    "KbStep",
    "KnowledgeBase",
    "SpaceBuilt",
    "SpaceComparison",
    "SpaceCounts",
    "StepRun",
    "compare_records",
    "default_kb_dir",
    "file_sha256",
    "kb_files",
    "kb_info",
    "load_kb_plan",
    "read_records_columns",
    "records_counts",
    "resolve_out_dir",
    "source_root",
    "split_suite_options",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
