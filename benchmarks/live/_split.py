"""Which tasks take part, their families and folds, and which are held out live.

The rules (which tasks take part, their families) are metamodel.evaluation's,
shared with pool mode, so the family folds come out identical for the same
store, seed and fold count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from warmstart.metamodel.evaluation import spread_over_families, task_families, usable_records
from warmstart.metamodel.types import EvaluationRecord, RecordStatus

__all__ = ["spread_over_families", "stored_scores", "task_families", "usable_records"]


def stored_scores(records: Iterable[EvaluationRecord]) -> dict[str, float]:
    """Mean successful score per config hash on one task; NaN for a config that only failed."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for record in records:
        ok = record.status is RecordStatus.OK and record.score is not None
        grouped[record.config_hash].append(float(record.score) if ok else np.nan)  # type: ignore[arg-type]
    return {
        digest: float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
        for digest, values in grouped.items()
    }
