"""The database schema at the newest revision, as SQLAlchemy Core tables.

Migrations under ``migrations/versions`` are written out by hand and never
derived from this module at run time; a test checks that upgrading an empty
database to head gives exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "metadata",
    "model_events",
    "model_versions",
    "records",
    "search_spaces",
    "store_locks",
    "task_features",
    "tasks",
]

metadata = sa.MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
_RecordId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("task_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("task_type", sa.String(16), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("family", sa.String(255), nullable=True),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("n_features", sa.Integer, nullable=False),
    sa.Column("n_classes", sa.Integer, nullable=True),
    sa.Column("stats", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

task_features = sa.Table(
    "task_features",
    metadata,
    sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.task_id"), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("names", sa.Text, nullable=False),
    sa.Column("feature_values", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

search_spaces = sa.Table(
    "search_spaces",
    metadata,
    sa.Column("space_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, index=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("record_id", _RecordId, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.task_id"), nullable=False),
    sa.Column("space_id", sa.String(64), sa.ForeignKey("search_spaces.space_id"), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("config_hash", sa.String(64), nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("fidelity", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("fit_seconds", sa.Float, nullable=True),
    sa.Column("predict_seconds", sa.Float, nullable=True),
    sa.Column("peak_memory_mb", sa.Float, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("external_id", sa.String(128), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint(
        "task_id", "space_id", "config_hash", "seed", "fidelity", name="uq_records_key"
    ),
    sa.Index("ix_records_space_status", "space_id", "status"),
    sa.Index("ix_records_task", "task_id"),
    sa.Index("ix_records_source", "source"),
    sa.Index("ix_records_external_id", "external_id", unique=True),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("space_name", sa.String(128), nullable=False, index=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("bundle_hash", sa.String(64), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("serving", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

model_events = sa.Table(
    "model_events",
    metadata,
    sa.Column("event_id", _RecordId, primary_key=True, autoincrement=True),
    sa.Column("space_name", sa.String(128), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("version", sa.String(64), nullable=True),
    sa.Column("previous_version", sa.String(64), nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

store_locks = sa.Table(
    "store_locks",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
