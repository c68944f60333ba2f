"""Uploads: checked as images (limits before decoding), stored as sent, owned by one user."""

from __future__ import annotations

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.session import transaction
from craftgen.db.tables import Upload, new_id
from craftgen.engine.limits import Limits
from craftgen.errors import NotFound
from craftgen.imaging.io import open_image
from craftgen.schemas import ToolRequest, input_files
from craftgen.storage.store import BlobStore

_MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def save_upload(
    sessions: sessionmaker[Session], store: BlobStore, *, user_id: str, data: bytes, limits: Limits
) -> Upload:
    # 1. Refuse anything that is not an image within the limits; nothing is stored for it.
    image = open_image(data, max_bytes=limits.max_upload_bytes, max_pixels=limits.max_upload_pixels)
    # 2. Store the bytes, then the row that points at them.
    upload_id = new_id()
    key = f"uploads/{user_id}/{upload_id}"
    media_type = _MEDIA_TYPES.get(str(image.info.get("craftgen_format")), "application/octet-stream")
    store.put(key, data, media_type=media_type)
    with transaction(sessions) as session:
        upload = Upload(
            id=upload_id,
            user_id=user_id,
            storage_key=key,
            media_type=media_type,
            width=image.width,
            height=image.height,
            size_bytes=len(data),
        )
        session.add(upload)
    return upload


def load_upload(
    sessions: sessionmaker[Session],
    store: BlobStore,
    *,
    user_id: str,
    upload_id: str,
    limits: Limits,
    field: str = "image",
) -> Image.Image:
    """The decoded image of one of this user's uploads; another user's is NotFound. `field` is
    the request field that named it, for the error."""
    with sessions() as session:
        upload = session.scalar(select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id))
    if upload is None:
        raise NotFound(f"upload {upload_id!r} not found", field=field)
    data = store.get(upload.storage_key)
    return open_image(data, max_bytes=limits.max_upload_bytes, max_pixels=limits.max_upload_pixels, field=field)


def load_input_files(
    sessions: sessionmaker[Session], store: BlobStore, *, user_id: str, request: ToolRequest, limits: Limits
) -> dict[str, Image.Image]:
    """The decoded uploads a request names in its input-file fields (`image`, `mask`), by field."""
    files = {}
    for name in input_files(type(request)):
        upload_id = getattr(request, name, None)
        if upload_id is not None:
            files[name] = load_upload(sessions, store, user_id=user_id, upload_id=upload_id, limits=limits, field=name)
    return files
