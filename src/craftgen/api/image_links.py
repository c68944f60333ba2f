"""Signed, expiring links to one output image, that work without an Authorization header.

OpenAI's `response_format: url` hands out such links; so do we: `/v1/image-links/TOKEN`, where
the token is `<image id>.<format>.<expires at>.<HMAC-SHA256>`, signed with the session secret
(CRAFTGEN_SESSION_SECRET, or the one kept in the data folder) under a purpose of its own, so a
link can never pass for a sign-in cookie. A changed byte or a past expiry is a 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from craftgen.api.compat_jobs import MEDIA_TYPES, convert
from craftgen.api.deps import RuntimeDep
from craftgen.api.images import file_headers
from craftgen.api.shapes import ErrorBody
from craftgen.db.tables import ImageRow
from craftgen.errors import Forbidden, NotFound
from craftgen.runtime import Runtime
from craftgen.signin import session_secret

router = APIRouter(tags=["images"])


@dataclass(frozen=True)
class LinkSigner:
    secret: bytes = field(repr=False)
    max_age: int

    def sign(self, image_id: str, fmt: str, *, now: float | None = None) -> str:
        expires = int(time.time() if now is None else now) + self.max_age
        message = f"{image_id}.{fmt}.{expires}"
        return f"{message}.{self._signature(message)}"

    def verify(self, token: str, *, now: float | None = None) -> tuple[str, str] | None:
        """(image id, format) of a genuine, unexpired token; None otherwise."""
        parts = token.split(".")
        if len(parts) != 4 or not parts[2].isdigit() or parts[1] not in MEDIA_TYPES:
            return None
        image_id, fmt, expires, signature = parts
        if not hmac.compare_digest(signature, self._signature(f"{image_id}.{fmt}.{expires}")):
            return None
        if (time.time() if now is None else now) > int(expires):
            return None
        return image_id, fmt

    def _signature(self, message: str) -> str:
        digest = hmac.new(self.secret, f"craftgen-image-link:{message}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def link_signer(runtime: Runtime) -> LinkSigner:
    settings = runtime.settings
    secret = session_secret(configured=settings.session_secret, data_dir=settings.data_dir)
    return LinkSigner(secret=secret, max_age=settings.image_link_seconds)


def image_link(request: Request, runtime: Runtime, *, image_id: str, fmt: str) -> str:
    """An absolute, signed link to an image, in `fmt`, valid for CRAFTGEN_IMAGE_LINK_SECONDS."""
    return str(request.url_for("get_image_link", token=link_signer(runtime).sign(image_id, fmt)))


@router.get(
    "/v1/image-links/{token}",
    response_class=Response,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 403: {"model": ErrorBody}},
)
async def get_image_link(token: str, runtime: RuntimeDep) -> Response:
    """An image behind a signed link (no API key needed); 403 once tampered with or expired."""
    found = link_signer(runtime).verify(token)
    if found is None:
        raise Forbidden("this image link is invalid or has expired")
    image_id, fmt = found
    with runtime.sessions() as session:
        image = session.scalar(select(ImageRow).where(ImageRow.id == image_id))
    if image is None:
        raise NotFound("this image no longer exists")
    data = await run_in_threadpool(runtime.store.get, image.storage_key)
    if fmt not in ("png", "svg"):
        data = await run_in_threadpool(convert, data, fmt)
    headers = file_headers(image)
    if fmt not in ("png", "svg"):  # converted: the download's name says so
        stem = headers["Content-Disposition"].rsplit(".", 1)[0]
        headers["Content-Disposition"] = f'{stem}.{"jpg" if fmt == "jpeg" else fmt}"'
    headers["Cache-Control"] = "private, max-age=300"
    media_type = image.media_type if fmt in ("png", "svg") else MEDIA_TYPES[fmt]
    return Response(content=data, media_type=media_type, headers=headers)
