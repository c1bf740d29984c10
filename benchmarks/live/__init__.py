"""Live-mode evaluation: train warmstart's suggestions and the baselines on held-out tasks.

:func:`evaluate_live` runs the leave-family-out comparison (pool mode's folds)
by evaluating configs for real with the stored records' protocol, FLAML's
zero-shot LightGBM included when FLAML is installed; :func:`write_live_report`
writes it as Markdown with PNG plots.

Example:
    >>> result = evaluate_live(store, load_suite("pmlb:data/pmlb"), "lightgbm", "mf-1")
    >>> result.record("flaml_zeroshot")  # warmstart's wins/ties/losses at k = 1
"""

from __future__ import annotations

from benchmarks.live._evaluate import evaluate_live
from benchmarks.live._flaml import (
    FLAML_LIGHTGBM,
    FlamlLightGBM,
    FlamlLightGBMEstimator,
    flaml_lightgbm_params,
    flaml_missing_reason,
)
from benchmarks.live._protocol import (
    DEFAULT_PROTOCOL,
    RecordedProtocol,
    recorded_protocol,
    resolve_protocol,
)
from benchmarks.live._report import outside_space, write_live_report
from benchmarks.live._split import spread_over_families
from benchmarks.live._types import (
    BASELINES,
    LIVE_METHODS,
    LiveEvaluation,
    LiveSettings,
    LiveTaskResult,
    WinTieLoss,
)

__all__ = [
    "BASELINES",
    "DEFAULT_PROTOCOL",
    "FLAML_LIGHTGBM",
    "LIVE_METHODS",
    "FlamlLightGBM",
    "FlamlLightGBMEstimator",
    "LiveEvaluation",
    "LiveSettings",
    "LiveTaskResult",
    "RecordedProtocol",
    "WinTieLoss",
    "evaluate_live",
    "flaml_lightgbm_params",
    "flaml_missing_reason",
    "outside_space",
    "recorded_protocol",
    "resolve_protocol",
    "spread_over_families",
    "write_live_report",
]
