"""Model versions, and client-supplied record ids for idempotent reporting.

Revision ID: 0002_model_versions
Revises: 0001_initial
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_model_versions"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("external_id", sa.String(128), nullable=True))
    op.create_index("ix_records_external_id", "records", ["external_id"], unique=True)
    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("space_name", sa.String(128), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("bundle_hash", sa.String(64), nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("serving", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_versions_space_name", "model_versions", ["space_name"])


def downgrade() -> None:
    op.drop_table("model_versions")
    op.drop_index("ix_records_external_id", table_name="records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("external_id")
