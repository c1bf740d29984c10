"""Conversions between domain dataclasses and database rows."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from warmstart.metamodel.configs import canonical_config, config_json
from warmstart.metamodel.types import (
    EvaluationRecord,
    ModelVersion,
    SearchSpace,
    Task,
    TaskFeatures,
    TaskType,
)

__all__ = [
    "dump_floats",
    "load_floats",
    "model_version_from_row",
    "model_version_to_row",
    "record_from_row",
    "record_to_row",
    "space_from_row",
    "task_features_from_row",
    "task_from_row",
    "task_to_row",
]


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite drops the zone; we always write UTC


def dump_floats(values: Mapping[str, float]) -> str:
    """JSON for a name → float mapping; non-finite values are written as null."""
    clean = {
        str(k): (float(v) if v is not None and math.isfinite(float(v)) else None)
        for k, v in values.items()
    }
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), allow_nan=False)


def load_floats(text: str) -> dict[str, float]:
    """Inverse of :func:`dump_floats`: null comes back as NaN."""
    return {k: (math.nan if v is None else float(v)) for k, v in json.loads(text).items()}


def task_to_row(task: Task) -> dict[str, Any]:
    """Row for the ``tasks`` table."""
    return {
        "task_id": task.task_id,
        "name": task.name,
        "task_type": task.task_type.value,
        "source": task.source,
        "family": task.family,
        "n_rows": task.n_rows,
        "n_features": task.n_features,
        "n_classes": task.n_classes,
        "stats": dump_floats(task.stats),
        "created_at": utcnow(),
    }


def task_from_row(row: Mapping[Any, Any]) -> Task:
    """Task from a ``tasks`` row."""
    return Task(
        task_id=row["task_id"],
        name=row["name"],
        task_type=TaskType(row["task_type"]),
        source=row["source"],
        family=row["family"],
        n_rows=row["n_rows"],
        n_features=row["n_features"],
        n_classes=row["n_classes"],
        stats=load_floats(row["stats"]),
    )


def task_features_from_row(row: Mapping[Any, Any]) -> TaskFeatures:
    """TaskFeatures from a ``task_features`` row."""
    names = json.loads(row["names"])
    values = [math.nan if v is None else float(v) for v in json.loads(row["feature_values"])]
    return TaskFeatures(
        task_id=row["task_id"], version=row["version"], names=tuple(names), values=tuple(values)
    )


def space_from_row(row: Mapping[Any, Any]) -> SearchSpace:
    """SearchSpace from a ``search_spaces`` row."""
    return SearchSpace(space_id=row["space_id"], name=row["name"], definition=row["definition"])


def record_to_row(record: EvaluationRecord, now: datetime) -> dict[str, Any]:
    """Row for the ``records`` table (config in canonical JSON)."""
    return {
        "task_id": record.task_id,
        "space_id": record.space_id,
        "config": config_json(record.config),
        "config_hash": record.config_hash,
        "seed": int(record.seed),
        "fidelity": float(record.fidelity),
        "score": None if record.score is None else float(record.score),
        "metrics": dump_floats(record.metrics),
        "fit_seconds": record.fit_seconds,
        "predict_seconds": record.predict_seconds,
        "peak_memory_mb": record.peak_memory_mb,
        "status": record.status.value,
        "error": record.error,
        "source": record.source.value,
        "external_id": record.external_id,
        "created_at": record.created_at or now,
    }


def record_from_row(row: Mapping[Any, Any]) -> EvaluationRecord:
    """EvaluationRecord from a ``records`` row."""
    return EvaluationRecord(
        record_id=row["record_id"],
        task_id=row["task_id"],
        space_id=row["space_id"],
        config=canonical_config(json.loads(row["config"])),
        config_hash=row["config_hash"],
        seed=row["seed"],
        fidelity=row["fidelity"],
        score=row["score"],
        metrics=load_floats(row["metrics"]),
        fit_seconds=row["fit_seconds"],
        predict_seconds=row["predict_seconds"],
        peak_memory_mb=row["peak_memory_mb"],
        status=row["status"],
        error=row["error"],
        source=row["source"],
        external_id=row["external_id"],
        created_at=_aware(row["created_at"]),
    )


def model_version_to_row(model: ModelVersion) -> dict[str, Any]:
    """Row for the ``model_versions`` table."""
    return {
        "version": model.version,
        "space_name": model.space_name,
        "path": model.path,
        "bundle_hash": model.bundle_hash,
        "metrics": dump_floats(model.metrics),
        "serving": model.serving,
        "created_at": model.created_at or utcnow(),
    }


def model_version_from_row(row: Mapping[Any, Any]) -> ModelVersion:
    """ModelVersion from a ``model_versions`` row."""
    return ModelVersion(
        version=row["version"],
        space_name=row["space_name"],
        path=row["path"],
        bundle_hash=row["bundle_hash"],
        metrics=load_floats(row["metrics"]),
        serving=bool(row["serving"]),
        created_at=_aware(row["created_at"]),
    )
