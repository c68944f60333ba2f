"""users.failed_signins and users.signin_locked_until: a pause after repeated wrong passwords

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_signins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("signin_locked_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("signin_locked_until")
        batch.drop_column("failed_signins")
