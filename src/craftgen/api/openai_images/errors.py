"""OpenAI's error body, `{"error": {"message", "type", "param", "code"}}`, for these routes only.

The route class catches what a handler (or a dependency such as the API-key check) raises and
answers in OpenAI's shape with the status its SDKs map to their exceptions (400
BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError, 404 NotFoundError, 409
ConflictError, 429 RateLimitError, 5xx InternalServerError). The rest of the API keeps its own
shape.
"""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from craftgen.api.errors import INTERNAL_MESSAGE, route_answering_errors_with, status_for
from craftgen.errors import CraftgenError

log = logging.getLogger("craftgen.api.openai")

_TYPES = {401: "invalid_request_error", 403: "permission_error", 429: "rate_limit_error"}
_CODES = {"unauthorized": "invalid_api_key"}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail


class JobFailed(CraftgenError):
    """The job a request ran as failed or was canceled; the message says why."""

    code = "job_failed"

    def __init__(self, message: str, *, code: str = "job_failed", status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> JSONResponse:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = OpenAIErrorBody(error=OpenAIErrorDetail(message=message, type=kind, param=param, code=code))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def error_response(exc: Exception) -> JSONResponse:
    """OpenAI's answer for anything a handler raised."""
    if isinstance(exc, JobFailed):
        return openai_error(exc.status, exc.message, code=exc.code)
    if isinstance(exc, CraftgenError):
        status = status_for(exc)
        if status == 500:
            log.error("unmapped %s: %s", type(exc).__name__, exc.message)
            return openai_error(500, INTERNAL_MESSAGE, code="internal_error")
        # craftgen says 422 for a refused value; OpenAI (and its SDKs) say 400.
        return openai_error(
            400 if status == 422 else status, exc.message, param=exc.field, code=_CODES.get(exc.code, exc.code)
        )
    if isinstance(exc, RequestValidationError | ValidationError):
        errors = exc.errors()
        first = dict(errors[0]) if errors else {}
        loc = [str(part) for part in first.get("loc", ()) if part != "body"]
        param = ".".join(loc) or None
        if first.get("type") == "json_invalid":
            return openai_error(400, "the request body is not valid JSON", code="invalid_json")
        if first.get("type") == "missing":
            return openai_error(
                400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
            )
        message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
        return openai_error(400, f"Invalid value for '{param}': {message}", param=param, code="invalid_value")
    if isinstance(exc, HTTPException):
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else INTERNAL_MESSAGE
        return openai_error(exc.status_code, message)
    log.exception("unhandled error on an OpenAI Images route", exc_info=exc)
    return openai_error(500, INTERNAL_MESSAGE, code="internal_error")


# Every error on these routes is answered in OpenAI's shape.
OpenAIRoute = route_answering_errors_with(error_response, name="OpenAIRoute")
