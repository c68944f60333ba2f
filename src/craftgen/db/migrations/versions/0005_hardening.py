"""signin_throttles (sign-in attempts per client address) and gallery_items.withdrawn_at

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_throttles",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    # A plain ADD COLUMN on both dialects: gallery_items keeps its FTS5 triggers and partial indexes.
    op.add_column("gallery_items", sa.Column("withdrawn_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gallery_items") as batch:
        batch.drop_column("withdrawn_at")
    op.drop_table("signin_throttles")
