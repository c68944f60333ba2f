"""accounts (passwords, disabling, credits, session keys) and the community gallery

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00

Full-text search is dialect-specific: on SQLite an FTS5 table `gallery_fts` whose rowid is
gallery_items.seq, kept in sync by triggers (so every write, bulk inserts included, updates it
in the same transaction); on PostgreSQL a generated tsvector column `search` with a GIN index.
gallery/search.py queries both; the tsvector expression here is the one it expects.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VISIBLE = sa.text("hidden_at IS NULL")
PG_DOCUMENT = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', replace(coalesce(tags, ''), ',', ' ')), 'A') || "
    "setweight(to_tsvector('english', coalesce(prompt, '')), 'B')"
)
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE gallery_fts USING fts5(prompt, title, tags, tokenize = 'porter unicode61')",
    """CREATE TRIGGER gallery_fts_insert AFTER INSERT ON gallery_items BEGIN
         INSERT INTO gallery_fts(rowid, prompt, title, tags) VALUES (new.seq, new.prompt, new.title, new.tags);
       END""",
    """CREATE TRIGGER gallery_fts_delete AFTER DELETE ON gallery_items BEGIN
         DELETE FROM gallery_fts WHERE rowid = old.seq;
       END""",
    """CREATE TRIGGER gallery_fts_update AFTER UPDATE OF prompt, title, tags ON gallery_items BEGIN
         UPDATE gallery_fts SET prompt = new.prompt, title = new.title, tags = new.tags WHERE rowid = old.seq;
       END""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # 1. Accounts: passwords, disabling, pro credits, and session keys told apart from API keys.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("disabled_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("credits", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("credits_period", sa.String(7), nullable=False, server_default=""))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="api"))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("credits_charged", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "reason", name="uq_credit_ledger_job_reason"),
    )
    op.create_index("ix_credit_ledger_user_id", "credit_ledger", ["user_id"])

    # 2. The gallery, with one partial index per listing order (visible rows only).
    op.create_table(
        "gallery_items",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("image_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("tool", sa.String(32), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("hidden_at", sa.Float(), nullable=True),
        sa.Column("hidden_reason", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("image_id"),
    )
    for name, columns in (
        ("ix_gallery_newest", ["seq"]),
        ("ix_gallery_liked", ["likes", "seq"]),
        ("ix_gallery_tool_newest", ["tool", "seq"]),
        ("ix_gallery_tool_liked", ["tool", "likes", "seq"]),
    ):
        op.create_index(name, "gallery_items", columns, sqlite_where=VISIBLE, postgresql_where=VISIBLE)
    op.create_index("ix_gallery_reports", "gallery_items", ["reports"])
    op.create_index("ix_gallery_items_user_id", "gallery_items", ["user_id"])
    tables: tuple[tuple[str, list[sa.Column[Any]]], ...] = (
        ("gallery_likes", []),
        ("gallery_reports", [sa.Column("reason", sa.Text(), nullable=False)]),
    )
    for table, extra in tables:
        table_columns: list[sa.Column[Any]] = [
            sa.Column("image_id", sa.String(32), nullable=False),
            sa.Column("user_id", sa.String(32), nullable=False),
            *extra,
            sa.Column("created_at", sa.Float(), nullable=False),
        ]
        if table == "gallery_reports":
            table_columns.append(sa.Column("resolved_at", sa.Float(), nullable=True))
        op.create_table(
            table,
            *table_columns,
            sa.ForeignKeyConstraint(["image_id"], ["gallery_items.image_id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("image_id", "user_id"),
        )

    # 3. Full-text search, the dialect's own way.
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(f"ALTER TABLE gallery_items ADD COLUMN search tsvector GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED")
        op.execute("CREATE INDEX ix_gallery_search ON gallery_items USING gin (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("gallery_fts_insert", "gallery_fts_delete", "gallery_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS gallery_fts")
    op.drop_table("gallery_reports")
    op.drop_table("gallery_likes")
    op.drop_table("gallery_items")
    op.drop_table("credit_ledger")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("credits_charged")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("users") as batch:
        for column in ("credits_period", "credits", "disabled_at", "password_hash"):
            batch.drop_column(column)
