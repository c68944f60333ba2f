"""The API's dependencies: the runtime the app was built with, and the user an API key names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from craftgen.accounts import authenticate
from craftgen.errors import Unauthorized
from craftgen.db.tables import User
from craftgen.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cg_...`")


def current_user(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    """The caller, from `Authorization: Bearer <key>`; 401 without a valid key."""
    if credentials is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    user = authenticate(runtime.sessions, credentials.credentials)
    if user is None:
        raise Unauthorized("the API key is unknown or has been revoked")
    return user


UserDep = Annotated[User, Depends(current_user)]
