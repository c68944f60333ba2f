"""One error shape for every response, `{"error": {"code", "message", "field"}}`, and its status.

craftgen's error tree is mapped to status codes here and nowhere else. Request validation
errors become one human message naming the field; anything unexpected becomes a generic 500
whose traceback goes to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craftgen.engine.requests import describe_error
from craftgen.errors import (
    Canceled,
    Conflict,
    CraftgenError,
    Forbidden,
    InvalidRequest,
    ModelUnavailable,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("craftgen.api")


STATUS: dict[type[CraftgenError], int] = {
    InvalidRequest: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Canceled: 409,
    PayloadTooLarge: 413,
    QuotaExceeded: 429,
    ModelUnavailable: 503,
    Unavailable: 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

INTERNAL_MESSAGE = "something went wrong on our side; the error has been logged"


def error_response(
    status: int, *, code: str, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}}, status_code=status, headers=headers
    )


def status_for(error: CraftgenError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def craftgen_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CraftgenError)
    status = status_for(exc)
    if status == 500:
        # An error the tree has no status for: its message may be internal, so keep it in the log.
        log.error("unmapped %s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc.message)
        return error_response(500, code="internal_error", message=INTERNAL_MESSAGE)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, code=exc.code, message=exc.message, field=exc.field, headers=headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "JSON decode error")
        position = first.get("loc", ("body", "?"))[-1]
        return error_response(
            400, code="invalid_json", message=f"the request body is not valid JSON: {reason} (at character {position})"
        )
    field, message = describe_error(first, tuple(first.get("loc", ()))[1:])  # loc[0] is "body"
    return error_response(422, code="invalid_request", message=message, field=field)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "the request was refused"
    if exc.status_code >= 500:
        message = INTERNAL_MESSAGE
    return error_response(exc.status_code, code=code, message=message, headers=exc.headers)


class InternalErrors:
    """Any unexpected exception becomes a generic 500 in the one shape; the traceback is logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # a response is half sent: nothing to do but drop the connection
                raise
            response = error_response(500, code="internal_error", message=INTERNAL_MESSAGE)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CraftgenError, craftgen_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(InternalErrors)


def route_answering_errors_with(answer: Callable[[Exception], Response], *, name: str) -> type[APIRoute]:
    """A route class whose every error is answered by `answer` (a compatible API's own error
    shape) instead of the app-wide handlers; `answer` logs the unknown ones."""

    class ShapedErrorsRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:  # noqa: BLE001 - every error gets the API's shape; unknown ones are logged
                    return answer(exc)

            return route

    ShapedErrorsRoute.__name__ = ShapedErrorsRoute.__qualname__ = name
    return ShapedErrorsRoute
