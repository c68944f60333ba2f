"""jobs.preview: a small live preview of a running job's latents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A data: URL of a few KB, rewritten at the throttled progress rate while the job runs.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("preview", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("preview")
