"""The records store: SQLite (embedded default) or PostgreSQL, with Alembic migrations."""

from __future__ import annotations

from warmstart.metamodel.store._engine import normalize_url
from warmstart.metamodel.store._feature_parquet import (
    FEATURES_COLUMNS,
    FEATURES_FORMAT,
    FEATURES_REQUIRED_COLUMNS,
    FeatureRow,
    FeaturesImportReport,
    export_task_features,
    import_task_features,
    read_task_features,
    write_task_features,
)
from warmstart.metamodel.store._ledger import (
    LockBusyError,
    LockLostError,
    ModelAction,
    ModelEvent,
    ModelLedger,
    ServingChangedError,
    StoreLock,
)
from warmstart.metamodel.store._parquet import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ImportReport,
    RowError,
    export_records,
    import_records,
)
from warmstart.metamodel.store._reported import ConflictError, ReportOutcome, TaskPage
from warmstart.metamodel.store._schema import MissingDatabaseError, SchemaState, head_revision
from warmstart.metamodel.store._store import RecordFilter, RecordStore, StoreStats

__all__ = [
    "COLUMNS",
    "FEATURES_COLUMNS",
    "FEATURES_FORMAT",
    "FEATURES_REQUIRED_COLUMNS",
    "REQUIRED_COLUMNS",
    "ConflictError",
    "FeatureRow",
    "FeaturesImportReport",
    "ImportReport",
    "LockBusyError",
    "LockLostError",
    "MissingDatabaseError",
    "ModelAction",
    "ModelEvent",
    "ModelLedger",
    "RecordFilter",
    "RecordStore",
    "ReportOutcome",
    "RowError",
    "SchemaState",
    "ServingChangedError",
    "StoreLock",
    "StoreStats",
    "TaskPage",
    "export_records",
    "export_task_features",
    "head_revision",
    "import_records",
    "import_task_features",
    "normalize_url",
    "read_task_features",
    "write_task_features",
]
