"""Publishing one's own image to the gallery, and taking it back.

Only an `image` output (not a preview or an SVG) of a job that succeeded can be published; its
SVG cut file and preview become visible with it. Publishing again only changes the title and
tags (likes, reports and a hide stay). Hidden stays hidden until an admin unhides it: taking
a hidden image back keeps its row (hidden, reports open, marked withdrawn), so publishing it
again cannot make it public or clear its reports. The search index follows in the same transaction (FTS5
triggers on SQLite, a generated column on PostgreSQL).
"""

from __future__ import annotations

import time
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.session import transaction
from craftgen.db.tables import GalleryItem, Job
from craftgen.engine.tools import TOOLS
from craftgen.errors import InvalidRequest, NotFound
from craftgen.gallery.entries import GalleryEntry, clean_tags, clean_title, entry, entry_query
from craftgen.gallery.options import GalleryOptions
from craftgen.gallery.visibility import own_image
from craftgen.jobs import states

_PRIVATE_FIELDS = ("image", "mask")  # input uploads are never shown: they are the author's own files


def publish(
    sessions: sessionmaker[Session],
    options: GalleryOptions,
    *,
    user_id: str,
    image_id: str,
    title: str = "",
    tags: list[str] | None = None,
) -> GalleryEntry:
    # 1. Validate: the caller's own image output, of a job that succeeded.
    clean = clean_title(title, options=options)
    stored_tags = clean_tags(tags or [], options=options)
    with transaction(sessions) as session:
        image = own_image(session, user_id=user_id, image_id=image_id)
        if image.kind != "image":
            raise InvalidRequest(
                f"only a job's image outputs can be published, not its {image.kind} file", field="image_id"
            )
        job = session.scalar(select(Job).where(Job.id == image.job_id))
        if job is None or job.status != states.SUCCEEDED:
            raise InvalidRequest("only the images of a job that succeeded can be published", field="image_id")
        # 2. Insert, or update the title and tags of an image already published.
        item = session.scalar(select(GalleryItem).where(GalleryItem.image_id == image_id).with_for_update())
        if item is None:
            request = dict(job.request)
            session.add(
                GalleryItem(
                    image_id=image_id,
                    user_id=user_id,
                    job_id=job.id,
                    tool=job.tool,
                    prompt=str(request.get("prompt") or ""),
                    title=clean,
                    tags=stored_tags,
                    seed=image.seed,
                    settings=public_settings(request),
                    published_at=time.time(),
                    likes=0,
                    reports=0,
                )
            )
        else:
            item.title, item.tags, item.withdrawn_at = clean, stored_tags, None
        session.flush()
        row = session.execute(entry_query().where(GalleryItem.image_id == image_id)).one()
        return entry(*row)


def unpublish(sessions: sessionmaker[Session], *, user_id: str, image_id: str) -> None:
    """Make an image private again (its likes and reports go with it). A hidden one stays
    hidden, reports and all, until an admin looks; it is only marked withdrawn."""
    with transaction(sessions) as session:
        own_image(session, user_id=user_id, image_id=image_id)
        mine = (GalleryItem.image_id == image_id, GalleryItem.user_id == user_id, GalleryItem.withdrawn_at.is_(None))
        hidden = session.scalar(select(GalleryItem).where(*mine, GalleryItem.hidden_at.is_not(None)).with_for_update())
        if hidden is not None:
            hidden.withdrawn_at = time.time()
            return
        # A DELETE's result is a CursorResult; Session.execute is typed with the plain Result.
        gone = cast(CursorResult[Any], session.execute(delete(GalleryItem).where(*mine))).rowcount
    if not gone:
        raise NotFound(f"image {image_id!r} is not published")


def public_settings(request: dict[str, object]) -> dict[str, object]:
    """The settings a public image shows: the tool's own fields from the resolved request."""
    tool = TOOLS.get(str(request.get("tool")))
    fields = tool.fields - set(tool.input_files) if tool is not None else frozenset(request)
    return {
        name: value
        for name, value in request.items()
        if name in fields and name not in _PRIVATE_FIELDS and value is not None
    }
