"""The API's dependencies: the runtime the app was built with, and the user a request speaks for:
an API key (`Authorization: Bearer`) or the studio's signed session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from craftgen.accounts import DISABLED_MESSAGE, authenticate
from craftgen.db.tables import User
from craftgen.errors import Forbidden, Unauthorized
from craftgen.runtime import Runtime
from craftgen.signin import (
    COOKIE,
    CSRF_HEADER,
    SAFE_METHODS,
    SessionSigner,
    session_signer,
    user_for_token,
)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def cookie_signer(runtime: Runtime) -> SessionSigner:
    """What signs and checks the studio's session cookies, from the runtime's settings (the stored
    secret is read once per process, so this is cheap to call per request)."""
    settings = runtime.settings
    return session_signer(secret=settings.session_secret, data_dir=settings.data_dir, max_age=settings.session_max_age)


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cg_...`")


def current_user(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller, from `Authorization: Bearer <key>` or the studio's cookie; 401 without either,
    403 for a disabled account."""
    if credentials is not None:
        user = authenticate(runtime.sessions, credentials.credentials)
        if user is None:
            raise Unauthorized("the API key is unknown or has been revoked")
        return _enabled(user)
    token = request.cookies.get(COOKIE)
    if token is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    # A cookie rides along on any request the browser makes, even one another site's page starts;
    # a custom header cannot be sent cross-site without CORS, so requiring it stops such forgeries.
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
        raise HTTPException(403, f"requests signed in with the studio's cookie must send the header '{CSRF_HEADER}: 1'")
    user = user_for_token(runtime.sessions, signer=cookie_signer(runtime), token=token)
    if user is None:
        raise Unauthorized("your studio sign-in has expired or its key was revoked: sign in again")
    return _enabled(user)


def _enabled(user: User) -> User:
    if user.disabled_at is not None:
        raise Forbidden(DISABLED_MESSAGE)
    return user


UserDep = Annotated[User, Depends(current_user)]


def admin_user(user: UserDep) -> User:
    """The caller, if they are an admin; 403 otherwise."""
    if user.role != "admin":
        raise Forbidden("only an admin may do this")
    return user


AdminDep = Annotated[User, Depends(admin_user)]
