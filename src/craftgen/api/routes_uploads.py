"""POST /v1/uploads: store an input image, counting bytes as they arrive."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from craftgen.api.deps import RuntimeDep, UserDep
from craftgen.api.multipart import MULTIPART_SLACK, bounded_form
from craftgen.api.shapes import ErrorBody, UploadOut, upload_out
from craftgen.db.tables import Upload
from craftgen.errors import InvalidRequest, PayloadTooLarge
from craftgen.runtime import Runtime
from craftgen.uploads import save_upload

router = APIRouter(prefix="/uploads", tags=["uploads"])

CHUNK = 64 * 1024

_MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    openapi_extra=_MULTIPART_BODY,
    responses={413: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
async def create_upload(request: Request, runtime: RuntimeDep, user: UserDep) -> UploadOut:
    """Store an image (multipart field `file`) to name as a job's `image`."""
    data = await read_file_field(request, max_bytes=runtime.engine.limits.max_upload_bytes)
    upload = await run_in_threadpool(store_upload, runtime, user_id=user.id, data=data)
    return upload_out(upload)


async def read_file_field(request: Request, *, max_bytes: int) -> bytes:
    """The bytes of multipart field `file`, refused (413) as soon as the body passes the limit."""
    too_large = PayloadTooLarge(f"the file is larger than the upload limit of {max_bytes} bytes", field="file")
    form = await bounded_form(
        request, limit=max_bytes + MULTIPART_SLACK, too_large=too_large, max_files=1, max_fields=16
    )
    try:
        # The file part itself, held to the exact limit.
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidRequest("send the image as a multipart/form-data file field named 'file'", field="file")
        data = bytearray()
        while chunk := await file.read(CHUNK):
            data += chunk
            if len(data) > max_bytes:
                raise too_large
        return bytes(data)
    finally:
        await form.close()


def store_upload(runtime: Runtime, *, user_id: str, data: bytes) -> Upload:
    """save_upload, with its complaints about the image named for this route's field."""
    try:
        return save_upload(runtime.sessions, runtime.store, user_id=user_id, data=data, limits=runtime.engine.limits)
    except InvalidRequest as error:
        if error.field == "image":
            raise InvalidRequest(error.message, field="file") from None
        raise
