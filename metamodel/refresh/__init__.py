"""Keeping the model fresh: choose what to evaluate next, retrain, and gate the new model.

The application layer (``warmstart refresh``) runs the chosen evaluations with
the benchmark runner and publishes through the store's model ledger; this
package holds the decisions, with no runner or service in sight.
"""

from __future__ import annotations

from warmstart.metamodel.refresh._gate import (
    GateResult,
    GateSettings,
    compare_training_sets,
    usable_tasks,
)
from warmstart.metamodel.refresh._select import Candidate, SelectionSettings, select_candidates
from warmstart.metamodel.refresh._training import (
    TrainingSnapshot,
    served_records,
    take_snapshot,
    training_hash,
)

__all__ = [
    "Candidate",
    "GateResult",
    "GateSettings",
    "SelectionSettings",
    "TrainingSnapshot",
    "compare_training_sets",
    "select_candidates",
    "served_records",
    "take_snapshot",
    "training_hash",
    "usable_tasks",
]
