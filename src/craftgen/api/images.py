"""Finding an image a caller may see by id, and the SVG cut file that belongs with a PNG.

A caller sees their own images and public ones (gallery/visibility.py); another user's private
or hidden image is simply NotFound.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.tables import ImageRow
from craftgen.errors import NotFound
from craftgen.gallery.visibility import visible_image

SVG = "image/svg+xml"
INLINE_TYPES = ("image/png", "image/jpeg", "image/webp")  # safe to show in a browser tab


def find_image(sessions: sessionmaker[Session], *, user_id: str, image_id: str, admin: bool = False) -> ImageRow:
    with sessions() as session:
        return visible_image(session, viewer_id=user_id, image_id=image_id, admin=admin)


def find_cut_file(sessions: sessionmaker[Session], *, user_id: str, image_id: str) -> ImageRow:
    """The SVG made from the same output as `image_id` (itself, if it is the SVG)."""
    image = find_image(sessions, user_id=user_id, image_id=image_id)
    if image.media_type == SVG:
        return image
    with sessions() as session:
        svg = session.scalar(
            select(ImageRow).where(
                ImageRow.job_id == image.job_id,
                ImageRow.output_group == image.output_group,
                ImageRow.media_type == SVG,
            )
        )
    if svg is None:
        raise NotFound(
            f"image {image_id!r} has no SVG cut file (clipart and cutout make one when the shape can be traced)"
        )
    return svg


def file_headers(image: ImageRow) -> dict[str, str]:
    """Download headers: only plain raster images may show inline; SVG (scriptable) never does."""
    disposition = "inline" if image.media_type in INLINE_TYPES else "attachment"
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", image.name) or "image"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=86400",
    }
    if disposition == "attachment":
        headers["Content-Security-Policy"] = "default-src 'none'"
    return headers
