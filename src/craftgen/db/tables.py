"""The tables. `jobs` is the source of truth for a job's state; the queue only says who runs it."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> float:
    return time.time()


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    plan: Mapped[str] = mapped_column(String(16), default="free")  # free | pro
    role: Mapped[str] = mapped_column(String(16), default="user")  # user | admin
    created_at: Mapped[float] = mapped_column(Float, default=now)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)  # argon2id; None: keys only
    disabled_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # set by an admin
    # Wrong passwords in a row, and until when sign-in is paused after too many (accounts.py).
    failed_signins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    signin_locked_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    credits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # pro speed credits left
    credits_period: Mapped[str] = mapped_column(String(7), default="", server_default="")  # "YYYY-MM" of `credits`


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the key
    prefix: Mapped[str] = mapped_column(String(16))  # shown to the owner to tell keys apart
    created_at: Mapped[float] = mapped_column(Float, default=now)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="api", server_default="api")  # api | session


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_jobs_user_idempotency"),
        Index("ix_jobs_status_priority_seq", "status", "priority", "seq"),
        Index("ix_jobs_user_seq", "user_id", "seq"),
    )

    # seq orders the queue and the listing; id is what clients see.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tool: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the resolved tool request (defaults filled)
    batch_key: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher is claimed first
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs started
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # metrics, warnings
    preview: Mapped[str | None] = mapped_column(Text, nullable=True)  # data: URL of the live preview
    batch_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    credits_charged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # refunded on failure
    created_at: Mapped[float] = mapped_column(Float, default=now)
    # When the queue took the job: None means not yet, or never (a crash between the commit and
    # the enqueue), which the stranded-job sweep repairs (jobs/middleware.py).
    enqueued_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ImageRow(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("job_id", "name", name="uq_images_job_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order in the job's outputs
    name: Mapped[str] = mapped_column(String(128))  # e.g. clipart-0.svg
    output_group: Mapped[str] = mapped_column(String(128))  # e.g. clipart-0: a PNG and its SVG share it
    kind: Mapped[str] = mapped_column(String(16))  # image | preview | svg
    media_type: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class QueueEntry(Base):
    """The embedded queue backend's lease table (jobs/queue_sqlite.py); unused with Redis or SQS."""

    __tablename__ = "queue_entries"
    __table_args__ = (Index("ix_queue_visible", "priority", "lease_until", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), unique=True)
    priority: Mapped[int] = mapped_column(Integer)
    batch_key: Mapped[str] = mapped_column(String(64))
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)  # visible when < now
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[float] = mapped_column(Float, default=now)


class CreditLedger(Base):
    """Every credit movement; UNIQUE(job_id, reason) lets the database refuse a second charge or refund."""

    __tablename__ = "credit_ledger"
    __table_args__ = (UniqueConstraint("job_id", "reason", name="uq_credit_ledger_job_reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(Integer)  # negative for a charge
    reason: Mapped[str] = mapped_column(String(16))  # charge | refund
    created_at: Mapped[float] = mapped_column(Float, default=now)


# The listing orders' indexes cover only visible rows, so hiding costs the gallery nothing.
_VISIBLE = "hidden_at IS NULL"


def _listing_index(name: str, *columns: str) -> Index:
    return Index(name, *columns, sqlite_where=text(_VISIBLE), postgresql_where=text(_VISIBLE))


class GalleryItem(Base):
    """One published image. Full-text search is dialect-specific and lives outside this model:
    SQLite's FTS5 table `gallery_fts` (kept in sync by triggers) and PostgreSQL's generated
    `search` tsvector column with a GIN index, both made by migration 0003 (see gallery/search.py)."""

    __tablename__ = "gallery_items"
    __table_args__ = (
        _listing_index("ix_gallery_newest", "seq"),
        _listing_index("ix_gallery_liked", "likes", "seq"),
        _listing_index("ix_gallery_tool_newest", "tool", "seq"),
        _listing_index("ix_gallery_tool_liked", "tool", "likes", "seq"),
        Index("ix_gallery_reports", "reports"),
    )

    # seq: the publish order (newest first is seq descending), the cursor's tie-breaker, and the
    # FTS5 rowid, so SQLite can read search matches newest first straight from the FTS index.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    tool: Mapped[str] = mapped_column(String(32))
    prompt: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(200), default="")
    tags: Mapped[str] = mapped_column(Text, default="")  # comma-separated, lower case
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)  # the job's resolved request, minus its input upload
    published_at: Mapped[float] = mapped_column(Float, default=now)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    reports: Mapped[int] = mapped_column(Integer, default=0)  # open reports (not yet reviewed)
    hidden_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    hidden_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)  # reported | admin | user_disabled
    # The owner took a hidden image back: it stays hidden (and its reports stay) until an admin
    # looks; unhiding then makes it private, as its owner asked (gallery/moderation.py).
    withdrawn_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class GalleryLike(Base):
    __tablename__ = "gallery_likes"

    image_id: Mapped[str] = mapped_column(
        ForeignKey("gallery_items.image_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class GalleryReport(Base):
    __tablename__ = "gallery_reports"

    image_id: Mapped[str] = mapped_column(
        ForeignKey("gallery_items.image_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # an admin looked


class SigninThrottle(Base):
    """Password sign-in attempts from one client address in the current window (accounts.py)."""

    __tablename__ = "signin_throttles"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)  # the address, as the API saw it
    window_start: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # wrong or still being checked
