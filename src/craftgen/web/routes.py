"""The studio's pages: home, one page per tool, my images, sign-up and sign-in.

Pages are plain HTML from Jinja2 templates; `static/studio.js` does the work in the browser by
calling the v1 API with the session cookie these routes set. With `local_studio` on, a browser
on this machine (loopback) is signed in as the user "local" on its first visit; otherwise a
visitor signs up or signs in with a name and password (a fresh session key, revoked on sign-out)
or with an API key. Forms are CSRF-safe: the cookie is SameSite=strict and every POST must come
from this site's own pages (Origin).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from craftgen import __version__
from craftgen.accounts import DISABLED_MESSAGE, check_credentials, create_key_row, sign_up
from craftgen.api.deps import RuntimeDep, cookie_signer
from craftgen.db.tables import User
from craftgen.errors import InvalidRequest, TooManyAttempts
from craftgen.runtime import Runtime
from craftgen.signin import (
    COOKIE,
    CSRF_HEADER,
    LOCAL_USER,
    clear_session_cookie,
    key_id_for,
    local_key_id,
    revoke_session_key,
    set_session_cookie,
    user_for_key_id,
    user_for_token,
)
from craftgen.web.catalog import ToolPage, tool_pages

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)

# Pages may load only this site's own scripts, styles and images, and never sit in a frame.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _pages(runtime: Runtime) -> Mapping[str, ToolPage]:
    return tool_pages(options=runtime.engine.options)


def studio_data(pages: Mapping[str, ToolPage]) -> dict[str, object]:
    """What studio.js knows about the tools (it names none itself): "Use as input" offers the
    ones that take an image, results show on a checkerboard or repeated 3x3 as declared."""
    return {
        "csrfHeader": CSRF_HEADER,
        "tools": [
            {
                "name": page.name,
                "title": page.title,
                "takesImage": page.image,
                "takesMask": bool(page.masks),
                "transparent": page.transparent,
                "svg": page.svg,
                "repeatPreview": page.repeat_view,
            }
            for page in pages.values()
        ],
    }


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie_user(request: Request, runtime: Runtime) -> User | None:
    token = request.cookies.get(COOKIE)
    user = user_for_token(runtime.sessions, signer=cookie_signer(runtime), token=token) if token else None
    return user if user is not None and user.disabled_at is None else None


def _signed_in(request: Request, runtime: Runtime) -> tuple[User | None, str | None]:
    """The visitor's user, and a new cookie token when this request signed them in."""
    user = _cookie_user(request, runtime)
    if user is not None:
        return user, None
    # Only a browser on this machine gets the local user for free, even with the setting on.
    settings = runtime.settings
    if settings.local_studio and _is_loopback(request):
        key_id = local_key_id(runtime.sessions)
        local = user_for_key_id(runtime.sessions, key_id)
        if local is None or local.disabled_at is not None:  # a disabled account signs in by no means
            return None, None
        return local, cookie_signer(runtime).sign(key_id)
    return None, None


def _render(
    request: Request, runtime: Runtime, template: str, *, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    pages = _pages(runtime)
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "can_sign_out": user is not None and not (runtime.settings.local_studio and user.name == LOCAL_USER),
            "tiny": runtime.engine.registry.default == "tiny",
            "version": __version__,
            "tools": pages,
            "studio_data": studio_data(pages),
            **context,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


def _page(request: Request, runtime: Runtime, template: str, *, status_code: int = 200, **context: Any) -> Response:
    """A page for a signed-in visitor; others go to the sign-in page and come back."""
    user, token = _signed_in(request, runtime)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
    response = _render(request, runtime, template, user=user, status_code=status_code, **context)
    if token:
        set_session_cookie(response, token, max_age=runtime.settings.session_max_age, secure=_secure(request))
    return response


@router.get("/")
def home(request: Request, runtime: RuntimeDep) -> Response:
    """The tools as cards."""
    return _page(request, runtime, "home.html", title="What would you like to make?")


@router.get("/tools/{tool}")
def tool(tool: str, request: Request, runtime: RuntimeDep) -> Response:
    """One tool's form, its live progress and its results."""
    page = _pages(runtime).get(tool)
    if page is None:
        return _page(request, runtime, "not_found.html", status_code=404, title="Page not found")
    return _page(request, runtime, "tool.html", title=page.title, page=page)


@router.get("/images")
def my_images(request: Request, runtime: RuntimeDep) -> Response:
    """Everything the visitor has made, newest first."""
    return _page(request, runtime, "images.html", title="My images")


@router.get("/gallery")
def gallery(
    request: Request,
    runtime: RuntimeDep,
    q: Annotated[str, Query(max_length=200)] = "",
    tool: str = "",
    order: str = "newest",
) -> Response:
    """What everyone has published: search, like, report and remix."""
    order = order if order in ("newest", "liked") else "newest"
    return _page(request, runtime, "gallery.html", title="Gallery", q=q, tool=tool, order=order)


@router.get("/account")
def account(request: Request, runtime: RuntimeDep) -> Response:
    """Plan, credits, usage and API keys."""
    return _page(request, runtime, "account.html", title="Your account")


@router.get("/admin")
def moderation(request: Request, runtime: RuntimeDep) -> Response:
    """Reported images for admins to hide or put back, and their authors to disable."""
    user, _ = _signed_in(request, runtime)
    if user is not None and user.role == "admin":
        return _page(request, runtime, "admin.html", title="Moderation")
    return _page(request, runtime, "not_found.html", status_code=404, title="Page not found")


# Signing in and out ----------------------------------------------------------------------------


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _safe_next(target: str | None) -> str:
    # Only a path on this site: "//host" or "https://..." would send the visitor elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    """A form post from this site's own page (browsers send Origin on every POST)."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _signin_page(
    request: Request,
    runtime: Runtime,
    *,
    next_url: str,
    error: str | None = None,
    error_form: str = "key",
    status_code: int = 200,
) -> HTMLResponse:
    return _render(
        request,
        runtime,
        "signin.html",
        user=_cookie_user(request, runtime),
        status_code=status_code,
        title="Sign in",
        next_url=next_url,
        error=error,
        error_form=error_form,
        local_here=runtime.settings.local_studio and _is_loopback(request),
    )


@router.get("/signin")
def signin_form(
    request: Request, runtime: RuntimeDep, next_url: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    """Sign in with a name and password, or with an API key."""
    return _signin_page(request, runtime, next_url=_safe_next(next_url))


@router.post("/signin")
def signin(
    request: Request,
    runtime: RuntimeDep,
    key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_url: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check the password (or key), then set the session cookie (no key or password is kept in it)."""
    next_url = _safe_next(next_url)
    if not _same_origin(request):
        error = "Please sign in from this page."
        return _signin_page(request, runtime, next_url=next_url, error=error, error_form="origin", status_code=403)
    # 1. A name and password: a fresh session key, revoked again on sign-out.
    if name.strip() or password:
        try:
            policy = runtime.settings.signin_policy()
            client = request.client.host if request.client else None
            user = check_credentials(runtime.sessions, name=name, password=password, policy=policy, client=client)
        except TooManyAttempts as paused:
            error = sentence(paused.message)
            return _signin_page(
                request, runtime, next_url=next_url, error=error, error_form="password", status_code=429
            )
        if user is None:
            error = "That name and password do not match an account here."
            return _signin_page(
                request, runtime, next_url=next_url, error=error, error_form="password", status_code=401
            )
        if user.disabled_at is not None:
            error = f"You cannot sign in: {DISABLED_MESSAGE}."
            return _signin_page(
                request, runtime, next_url=next_url, error=error, error_form="password", status_code=403
            )
        session_key = create_key_row(runtime.sessions, user_id=user.id, kind="session")
        return _signed_in_redirect(request, runtime, session_key.id, next_url)
    # 2. An API key: the cookie names that key.
    key_id = key_id_for(runtime.sessions, key.strip()) if key.strip() else None
    if key_id is None:
        message = "That API key is not known here (or was revoked)." if key.strip() else "Enter your API key."
        return _signin_page(request, runtime, next_url=next_url, error=message, status_code=401)
    owner = user_for_key_id(runtime.sessions, key_id)
    if owner is None or owner.disabled_at is not None:
        error = f"You cannot sign in: {DISABLED_MESSAGE}."
        return _signin_page(request, runtime, next_url=next_url, error=error, status_code=403)
    return _signed_in_redirect(request, runtime, key_id, next_url)


def _signed_in_redirect(request: Request, runtime: Runtime, key_id: str, next_url: str) -> Response:
    response = RedirectResponse(next_url, status_code=303)
    settings = runtime.settings
    token = cookie_signer(runtime).sign(key_id)
    set_session_cookie(response, token, max_age=settings.session_max_age, secure=_secure(request))
    return response


def _signup_page(
    request: Request,
    runtime: Runtime,
    *,
    name: str = "",
    error: str | None = None,
    field: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _render(
        request,
        runtime,
        "signup.html",
        user=_cookie_user(request, runtime),
        status_code=status_code,
        title="Sign up",
        name=name,
        error=error,
        error_field=field,
        min_password_length=runtime.settings.min_password_length,
    )


@router.get("/signup")
def signup_form(request: Request, runtime: RuntimeDep) -> Response:
    """Make an account with a name and password."""
    return _signup_page(request, runtime)


@router.post("/signup")
def signup(
    request: Request,
    runtime: RuntimeDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Create a free account and sign it in."""
    if not _same_origin(request):
        return _signup_page(request, runtime, error="Please sign up from this page.", status_code=403)
    try:
        user = sign_up(
            runtime.sessions,
            name=name.strip(),
            password=password,
            min_password_length=runtime.settings.min_password_length,
        )
    except InvalidRequest as error:
        return _signup_page(request, runtime, name=name, error=error.message, field=error.field, status_code=422)
    session_key = create_key_row(runtime.sessions, user_id=user.id, kind="session")
    return _signed_in_redirect(request, runtime, session_key.id, "/")


@router.post("/signout")
def signout(request: Request, runtime: RuntimeDep) -> Response:
    """Forget the session cookie; a password sign-in's session key is revoked with it."""
    if not _same_origin(request):
        return Response(status_code=403)
    token = request.cookies.get(COOKIE)
    key_id = cookie_signer(runtime).verify(token) if token else None
    if key_id is not None:
        revoke_session_key(runtime.sessions, key_id)
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, secure=_secure(request))
    return response
