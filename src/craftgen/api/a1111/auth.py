"""Who an A1111 request speaks for: HTTP Basic whose password is an API key (any user name, as
with A1111's --api-auth), or `Authorization: Bearer <key>`."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from craftgen.accounts import DISABLED_MESSAGE, authenticate
from craftgen.api.deps import RuntimeDep
from craftgen.db.tables import User
from craftgen.errors import Forbidden, Unauthorized


def credential(header: str) -> str | None:
    """The API key in an Authorization header (Basic: the password), or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    return None


async def a1111_user(request: Request, runtime: RuntimeDep) -> User:
    key = credential(request.headers.get("authorization", ""))
    if key is None:
        raise Unauthorized("send an API key as the password of HTTP Basic auth, or as 'Authorization: Bearer <key>'")
    user = await run_in_threadpool(authenticate, runtime.sessions, key)
    if user is None:
        raise Unauthorized("the API key is unknown or has been revoked")
    if user.disabled_at is not None:
        raise Forbidden(DISABLED_MESSAGE)
    return user


A1111User = Annotated[User, Depends(a1111_user)]
