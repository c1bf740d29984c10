"""Live-mode evaluation: train warmstart's suggestions and the baselines on held-out tasks.

:func:`evaluate_live` runs the leave-family-out comparison (pool mode's folds)
by evaluating configs for real with the stored records' protocol or at the
tasks' real sizes (``row_cap=0``), against the library default, the single
best config, the greedy portfolio, the nearest-neighbour warm start and, when
FLAML is installed, FLAML's zero-shot LightGBM and configs sampled from FLAML's
own search space; :func:`write_live_report` writes it as Markdown with PNG plots,
by size bucket of the rows used.

Example:
    >>> result = evaluate_live(store, load_suite("pmlb:data/pmlb"), "lightgbm", "mf-1")
    >>> result.record("flaml_zeroshot")  # warmstart's wins/ties/losses at k = 1
"""

from __future__ import annotations

from warmstart.benchmarks.live._evaluate import evaluate_live
from warmstart.benchmarks.live._flaml import (
    FLAML_LIGHTGBM,
    FlamlLightGBM,
    FlamlLightGBMEstimator,
    flaml_lightgbm_params,
    flaml_missing_reason,
)
from warmstart.benchmarks.live._flaml_space import (
    FLAML_SPACE_LIGHTGBM,
    FlamlSpaceLightGBM,
    flaml_space_configs,
)
from warmstart.benchmarks.live._protocol import (
    DEFAULT_PROTOCOL,
    RecordedProtocol,
    recorded_protocol,
    resolve_protocol,
)
from warmstart.benchmarks.live._report import outside_space, write_live_report
from warmstart.benchmarks.live._split import (
    learner_of_stored_space,
    spread_over_families,
    suite_names,
)
from warmstart.benchmarks.live._types import (
    BASELINES,
    FLAML_METHODS,
    LIVE_METHODS,
    SINGLE_CONFIG_METHODS,
    SIZE_BUCKETS,
    LiveEvaluation,
    LiveSettings,
    LiveTaskResult,
    WinTieLoss,
    regret_at,
    size_bucket,
)

__all__ = [
    "BASELINES",
    "DEFAULT_PROTOCOL",
    "FLAML_LIGHTGBM",
    "FLAML_METHODS",
    "FLAML_SPACE_LIGHTGBM",
    "LIVE_METHODS",
    "SINGLE_CONFIG_METHODS",
    "SIZE_BUCKETS",
    "FlamlLightGBM",
    "FlamlLightGBMEstimator",
    "FlamlSpaceLightGBM",
    "LiveEvaluation",
    "LiveSettings",
    "LiveTaskResult",
    "RecordedProtocol",
    "WinTieLoss",
    "evaluate_live",
    "flaml_lightgbm_params",
    "flaml_missing_reason",
    "flaml_space_configs",
    "learner_of_stored_space",
    "outside_space",
    "recorded_protocol",
    "regret_at",
    "resolve_protocol",
    "size_bucket",
    "spread_over_families",
    "suite_names",
    "write_live_report",
]
