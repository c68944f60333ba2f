"""Who may see an image: its owner always; anyone else only while it (or the PNG whose output
group it belongs to, e.g. a clipart's SVG cut file or a pattern's 3x3 preview) is published and
not hidden. Everything else is NotFound, so a private image's existence is never revealed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from craftgen.db.tables import GalleryItem, ImageRow
from craftgen.errors import NotFound


def public_item(session: Session, image: ImageRow, *, hidden_too: bool = False) -> GalleryItem | None:
    """The visible gallery item covering this image's output group, if any (or a hidden one too)."""
    query = (
        select(GalleryItem)
        .join(ImageRow, ImageRow.id == GalleryItem.image_id)
        .where(GalleryItem.job_id == image.job_id, ImageRow.output_group == image.output_group)
    )
    if not hidden_too:
        query = query.where(GalleryItem.hidden_at.is_(None))
    return session.scalar(query)


def visible_image(session: Session, *, viewer_id: str, image_id: str, admin: bool = False) -> ImageRow:
    """An image the viewer owns, or one that is public; NotFound otherwise. Admins also see
    published images that are hidden (to review them), never private ones."""
    image = session.get(ImageRow, image_id)
    if image is None or (image.user_id != viewer_id and public_item(session, image, hidden_too=admin) is None):
        raise NotFound(f"image {image_id!r} not found")
    return image


def own_image(session: Session, *, user_id: str, image_id: str) -> ImageRow:
    image = session.scalar(select(ImageRow).where(ImageRow.id == image_id, ImageRow.user_id == user_id))
    if image is None:
        raise NotFound(f"image {image_id!r} not found")
    return image
