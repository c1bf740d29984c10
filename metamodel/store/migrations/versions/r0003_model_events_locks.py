"""Model events (publish, promote, rollback, refresh) and named locks.

Revision ID: 0003_model_events_locks
Revises: 0002_model_versions
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_model_events_locks"
down_revision = "0002_model_versions"
branch_labels = None
depends_on = None

_EventId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_events",
        sa.Column("event_id", _EventId, primary_key=True, autoincrement=True),
        sa.Column("space_name", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_events_space_name", "model_events", ["space_name"])
    op.create_table(
        "store_locks",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_locks")
    op.drop_index("ix_model_events_space_name", table_name="model_events")
    op.drop_table("model_events")
