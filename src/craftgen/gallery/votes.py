"""Likes and reports on public images: one of each per user, counted in the same transaction.

The gallery row is locked first, so two requests from one user cannot both count; the primary
key (image_id, user_id) backs that up. When an image's open reports reach the threshold it is
hidden until an admin looks (moderation.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.session import transaction
from craftgen.db.tables import GalleryItem, GalleryLike, GalleryReport
from craftgen.errors import InvalidRequest, NotFound
from craftgen.gallery.options import GalleryOptions

REPORTED = "reported"


def locked_item(session: Session, image_id: str, *, visible_only: bool = True) -> GalleryItem:
    query = select(GalleryItem).where(GalleryItem.image_id == image_id)
    if visible_only:
        query = query.where(GalleryItem.hidden_at.is_(None))
    item = session.scalar(query.with_for_update())
    if item is None:
        raise NotFound(f"image {image_id!r} not found in the gallery")
    return item


def like(sessions: sessionmaker[Session], *, user_id: str, image_id: str) -> int:
    """Like a public image (again is a no-op); its like count after."""
    with transaction(sessions) as session:
        item = locked_item(session, image_id)
        if session.get(GalleryLike, (image_id, user_id)) is None:
            session.add(GalleryLike(image_id=image_id, user_id=user_id))
            item.likes += 1
        return item.likes


def unlike(sessions: sessionmaker[Session], *, user_id: str, image_id: str) -> int:
    """Take a like back (none is a no-op); the like count after."""
    with transaction(sessions) as session:
        item = locked_item(session, image_id)
        unliked = delete(GalleryLike).where(GalleryLike.image_id == image_id, GalleryLike.user_id == user_id)
        # A DELETE's result is a CursorResult; Session.execute is typed with the plain Result.
        removed = cast(CursorResult[Any], session.execute(unliked)).rowcount
        item.likes -= removed
        return item.likes


def liked_by(session: Session, *, user_id: str, image_id: str) -> bool:
    return session.get(GalleryLike, (image_id, user_id)) is not None


@dataclass(frozen=True)
class ReportResult:
    hidden: bool  # the image is now hidden pending review


def report(
    sessions: sessionmaker[Session], options: GalleryOptions, *, user_id: str, image_id: str, reason: str
) -> ReportResult:
    """Report a public image (once per user; again is a no-op)."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("say what is wrong with the image", field="reason")
    if len(reason) > options.max_reason_chars:
        raise InvalidRequest(f"reason must be at most {options.max_reason_chars} characters", field="reason")
    with transaction(sessions) as session:
        item = locked_item(session, image_id)
        if session.get(GalleryReport, (image_id, user_id)) is None:
            session.add(GalleryReport(image_id=image_id, user_id=user_id, reason=reason))
            item.reports += 1
            if item.reports >= options.report_hide_threshold:
                item.hidden_at, item.hidden_reason = time.time(), REPORTED
        return ReportResult(hidden=item.hidden_at is not None)
