"""What an admin does: review reported images, hide or unhide any public image, and disable
or enable a user (a disabled user's public images leave the gallery with them)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.session import transaction
from craftgen.db.tables import GalleryItem, GalleryReport, User
from craftgen.errors import InvalidRequest, NotFound
from craftgen.gallery.entries import GalleryEntry, entry, entry_query
from craftgen.gallery.votes import locked_item

BY_ADMIN = "admin"
USER_DISABLED = "user_disabled"


@dataclass(frozen=True)
class ReportedImage:
    entry: GalleryEntry
    hidden: bool
    reasons: list[str]


def open_reports(sessions: sessionmaker[Session], *, limit: int = 100) -> list[ReportedImage]:
    """Images with reports no admin has looked at yet, most reported first."""
    with sessions() as session:
        rows = session.execute(
            entry_query()
            .where(GalleryItem.reports > 0)
            .order_by(GalleryItem.reports.desc(), GalleryItem.published_at.desc())
            .limit(limit)
        ).all()
        found: list[ReportedImage] = []
        for row in rows:
            reasons = session.scalars(
                select(GalleryReport.reason)
                .where(GalleryReport.image_id == row[0].image_id, GalleryReport.resolved_at.is_(None))
                .order_by(GalleryReport.created_at)
            ).all()
            found.append(ReportedImage(entry=entry(*row), hidden=row[0].hidden_at is not None, reasons=list(reasons)))
        return found


def set_hidden(sessions: sessionmaker[Session], *, image_id: str, hidden: bool) -> None:
    """Hide or unhide a published image; either way its open reports count as reviewed. An
    image its owner took back while it was hidden becomes private when unhidden."""
    with transaction(sessions) as session:
        item = locked_item(session, image_id, visible_only=False)
        now = time.time()
        if not hidden and item.withdrawn_at is not None:
            session.delete(item)
            return
        if hidden:
            item.hidden_at, item.hidden_reason = item.hidden_at or now, BY_ADMIN
        else:
            item.hidden_at, item.hidden_reason = None, None
        item.reports = 0
        session.execute(
            update(GalleryReport)
            .where(GalleryReport.image_id == image_id, GalleryReport.resolved_at.is_(None))
            .values(resolved_at=now)
        )


def set_user_disabled(sessions: sessionmaker[Session], *, admin_id: str, user_id: str, disabled: bool) -> User:
    """Disable a user (their keys and cookies are refused, their public images hidden) or enable them."""
    if disabled and user_id == admin_id:
        raise InvalidRequest("an admin cannot disable their own account", field="user_id")
    with transaction(sessions) as session:
        user = session.scalar(select(User).where(User.id == user_id).with_for_update())
        if user is None:
            raise NotFound(f"user {user_id!r} not found")
        now = time.time()
        mine = GalleryItem.user_id == user_id
        if disabled:
            user.disabled_at = user.disabled_at or now
            session.execute(
                update(GalleryItem)
                .where(mine, GalleryItem.hidden_at.is_(None))
                .values(hidden_at=now, hidden_reason=USER_DISABLED)
            )
        else:
            user.disabled_at = None
            # Only what disabling hid comes back; an admin's or the reporters' hides stay.
            session.execute(
                update(GalleryItem)
                .where(mine, GalleryItem.hidden_reason == USER_DISABLED)
                .values(hidden_at=None, hidden_reason=None)
            )
        return user
