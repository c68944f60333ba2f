"""A1111's error body for these routes: `{"error", "detail", "body", "errors"}` (its API's own
exception handler), with FastAPI's `detail` for what clients show; craftgen's status codes."""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from craftgen.api.errors import INTERNAL_MESSAGE, route_answering_errors_with, status_for
from craftgen.errors import CraftgenError

log = logging.getLogger("craftgen.api.a1111")


class A1111ErrorBody(BaseModel):
    error: str
    detail: str
    body: str = ""
    errors: str


def a1111_error(status: int, error: str, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    body = A1111ErrorBody(error=error, detail=message, errors=message)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, CraftgenError):
        status = status_for(exc)
        if status == 500:
            log.error("unmapped %s: %s", type(exc).__name__, exc.message)
            return a1111_error(500, "internal_error", INTERNAL_MESSAGE)
        message = f"{exc.field}: {exc.message}" if exc.field and not exc.message.startswith(exc.field) else exc.message
        headers = {"WWW-Authenticate": 'Basic realm="craftgen"'} if status == 401 else None
        return a1111_error(status, exc.code, message, headers=headers)
    if isinstance(exc, RequestValidationError | ValidationError):
        errors = exc.errors()
        first = dict(errors[0]) if errors else {}
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
        return a1111_error(422, "invalid_request", f"{field}: {first.get('msg', 'is invalid')}")
    if isinstance(exc, HTTPException):
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else INTERNAL_MESSAGE
        return a1111_error(exc.status_code, "http_error", message)
    log.exception("unhandled error on an A1111 route", exc_info=exc)
    return a1111_error(500, "internal_error", INTERNAL_MESSAGE)


# Every error on these routes is answered in A1111's shape.
A1111Route = route_answering_errors_with(error_response, name="A1111Route")
