"""Small WebP copies of raster images for grids (the gallery, My images): made on first request,
kept in the blob store beside nothing else, and served from there afterwards.

A gallery page of 24 full-size PNGs is several MB; their thumbnails are a few hundred KB. Images
never change once stored, so a thumbnail never goes stale and its key needs no version.
"""

from __future__ import annotations

import io

from PIL import Image

from craftgen.db.tables import ImageRow
from craftgen.errors import InvalidRequest, NotFound
from craftgen.storage.store import BlobStore

WEBP = "image/webp"
RASTER_TYPES = ("image/png", "image/jpeg", "image/webp")
QUALITY = 82  # WebP quality: visually clean at grid size, a fraction of the PNG's bytes


def thumbnail_key(image_id: str, size: int) -> str:
    return f"thumbs/{image_id}-{size}.webp"


def thumbnail(store: BlobStore, image: ImageRow, *, size: int) -> bytes:
    """The image's thumbnail (longest side at most `size`, alpha kept), made once and stored."""
    if image.media_type not in RASTER_TYPES:
        raise InvalidRequest(f"image {image.id!r} is {image.media_type}: only raster images have thumbnails")
    key = thumbnail_key(image.id, size)
    try:
        return store.get(key)
    except NotFound:
        pass
    with Image.open(io.BytesIO(store.get(image.storage_key))) as picture:
        picture.load()
        small = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    small.thumbnail((size, size), Image.Resampling.LANCZOS)  # never enlarges; keeps the aspect ratio
    buffer = io.BytesIO()
    small.save(buffer, format="WEBP", quality=QUALITY, method=4)
    data = buffer.getvalue()
    store.put(key, data, media_type=WEBP)  # two requests racing both write the same bytes: harmless
    return data
