"""One error tree for craftgen. Only the API and CLI layers map these to status codes."""

from __future__ import annotations


class CraftgenError(Exception):
    """Base of every error craftgen raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(CraftgenError):
    """The caller sent a value craftgen refuses; the message names it."""

    code = "invalid_request"


class NotFound(CraftgenError):
    """A named thing (job, image, upload, model) does not exist for this caller."""

    code = "not_found"


class QuotaExceeded(CraftgenError):
    """The caller's plan does not allow this now."""

    code = "quota_exceeded"


class TooManyAttempts(QuotaExceeded):
    """Sign-in is paused for this account after repeated wrong passwords."""

    code = "too_many_attempts"


class ModelUnavailable(CraftgenError):
    """A model could not be found or loaded; the message lists what was tried."""

    code = "model_unavailable"


class Conflict(CraftgenError):
    """The thing is not in a state that allows this (e.g. canceling a finished job)."""

    code = "conflict"


class Unavailable(CraftgenError):
    """A service craftgen needs (queue, database, store) is not reachable right now."""

    code = "unavailable"


class Canceled(CraftgenError):
    """The work was canceled before it finished."""

    code = "canceled"


class Unauthorized(CraftgenError):
    """No API key was sent, or the key is unknown or revoked."""

    code = "unauthorized"


class PayloadTooLarge(CraftgenError):
    """The request body is larger than the limit for it."""

    code = "payload_too_large"


class Forbidden(CraftgenError):
    """The caller is known but may not do this (a disabled account, a non-admin)."""

    code = "forbidden"
