"""Initial schema: tasks, task features, search spaces and evaluation records.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_RecordId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tasks",
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
    op.create_table(
        "task_features",
        sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.task_id"), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("names", sa.Text, nullable=False),
        sa.Column("feature_values", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "search_spaces",
        sa.Column("space_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_search_spaces_name", "search_spaces", ["name"])
    op.create_table(
        "records",
        sa.Column("record_id", _RecordId, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), sa.ForeignKey("tasks.task_id"), nullable=False),
        sa.Column(
            "space_id", sa.String(64), sa.ForeignKey("search_spaces.space_id"), nullable=False
        ),
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "task_id", "space_id", "config_hash", "seed", "fidelity", name="uq_records_key"
        ),
    )
    op.create_index("ix_records_space_status", "records", ["space_id", "status"])
    op.create_index("ix_records_task", "records", ["task_id"])
    op.create_index("ix_records_source", "records", ["source"])


def downgrade() -> None:
    op.drop_table("records")
    op.drop_table("search_spaces")
    op.drop_table("task_features")
    op.drop_table("tasks")
