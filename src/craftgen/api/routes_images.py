"""/v1/images: an output's metadata, its file, and the SVG cut file that goes with a PNG."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from craftgen.api.deps import RuntimeDep, UserDep
from craftgen.api.images import file_headers, find_cut_file, find_image
from craftgen.api.shapes import ErrorBody, ImageOut, image_out
from craftgen.api.thumbnails import WEBP, thumbnail
from craftgen.db.tables import ImageRow
from craftgen.gallery.visibility import public_item
from craftgen.gallery.votes import liked_by
from craftgen.runtime import Runtime

router = APIRouter(prefix="/images", tags=["images"], responses={404: {"model": ErrorBody}})

_FILE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "image/svg+xml": {}}, "description": "The file's bytes."}
}


@router.get("/{image_id}")
def get_image(image_id: str, runtime: RuntimeDep, user: UserDep) -> ImageOut:
    """One output image's metadata, and whether it is public and how many like it."""
    image = find_image(runtime.sessions, user_id=user.id, image_id=image_id)
    with runtime.sessions() as session:
        item = public_item(session, image)
        if item is None:
            return image_out(image)
        liked = liked_by(session, user_id=user.id, image_id=item.image_id)
        return image_out(image, public=True, likes=item.likes, liked=liked)


@router.get("/{image_id}/file", response_class=Response, responses=_FILE)
def get_image_file(image_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """The image's bytes (SVG always as a download, never rendered inline)."""
    return _file(runtime, find_image(runtime.sessions, user_id=user.id, image_id=image_id, admin=user.role == "admin"))


@router.get("/{image_id}/thumb", response_class=Response, responses={200: {"content": {"image/webp": {}}}})
def get_thumbnail(image_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """A small WebP of the image (longest side CRAFTGEN_THUMBNAIL_SIZE), for grids."""
    # Admins reviewing reports see hidden gallery images' thumbnails too (never private ones).
    image = find_image(runtime.sessions, user_id=user.id, image_id=image_id, admin=user.role == "admin")
    data = thumbnail(runtime.store, image, size=runtime.settings.thumbnail_size)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400"}
    return Response(content=data, media_type=WEBP, headers=headers)


@router.get("/{image_id}/svg", response_class=Response, responses=_FILE)
def get_cut_file(image_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """The SVG cut file made from the same output as this image."""
    return _file(runtime, find_cut_file(runtime.sessions, user_id=user.id, image_id=image_id))


def _file(runtime: Runtime, image: ImageRow) -> Response:
    data = runtime.store.get(image.storage_key)
    return Response(content=data, media_type=image.media_type, headers=file_headers(image))
