"""The studio's pages: home, one page per tool, my images, and sign-in.

Pages are plain HTML from Jinja2 templates; `static/studio.js` does the work in the browser by
calling the v1 API with the session cookie these routes set. With `local_studio` on, a browser
on this machine (loopback) is signed in as the user "local" on its first visit; otherwise a
visitor signs in once with an API key.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from craftgen import __version__
from craftgen.api.deps import RuntimeDep
from craftgen.db.tables import User
from craftgen.runtime import Runtime
from craftgen.web.catalog import ToolPage, tool_pages
from craftgen.web.session import (
    COOKIE,
    CSRF_HEADER,
    LOCAL_USER,
    clear_session_cookie,
    key_id_for,
    local_key_id,
    session_secret,
    set_session_cookie,
    sign,
    user_for_key_id,
    user_for_token,
)

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
IMAGE_TOOLS = ("cutout", "variations", "outpaint", "upscale")  # where "Use as input" can send a result


def _pages(runtime: Runtime) -> dict[str, ToolPage]:
    return tool_pages(default_size=runtime.settings.default_size)


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
    return user_for_token(runtime.sessions, runtime.settings, token) if token else None


def _signed_in(request: Request, runtime: Runtime) -> tuple[User | None, str | None]:
    """The visitor's user, and a new cookie token when this request signed them in."""
    user = _cookie_user(request, runtime)
    if user is not None:
        return user, None
    # Only a browser on this machine gets the local user for free, even with the setting on.
    settings = runtime.settings
    if settings.local_studio and _is_loopback(request):
        key_id = local_key_id(runtime.sessions)
        return user_for_key_id(runtime.sessions, key_id), sign(session_secret(settings), key_id)
    return None, None


def _render(
    request: Request, runtime: Runtime, template: str, *, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    pages = _pages(runtime)
    studio_data = {
        "csrfHeader": CSRF_HEADER,
        "tools": [{"name": page.name, "title": page.title} for page in pages.values()],
        "imageTools": [{"name": name, "title": pages[name].title} for name in IMAGE_TOOLS],
    }
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "can_sign_out": user is not None and not (runtime.settings.local_studio and user.name == LOCAL_USER),
            "tiny": runtime.engine.registry.default == "tiny",
            "version": __version__,
            "tools": pages,
            "studio_data": studio_data,
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


# Signing in and out ----------------------------------------------------------------------------


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
    request: Request, runtime: Runtime, *, next_url: str, error: str | None = None, status_code: int = 200
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
        local_here=runtime.settings.local_studio and _is_loopback(request),
    )


@router.get("/signin")
def signin_form(
    request: Request, runtime: RuntimeDep, next_url: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    """Sign in with an API key."""
    return _signin_page(request, runtime, next_url=_safe_next(next_url))


@router.post("/signin")
def signin(
    request: Request,
    runtime: RuntimeDep,
    key: Annotated[str, Form()] = "",
    next_url: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check the key, then set the session cookie (the key itself is not kept)."""
    next_url = _safe_next(next_url)
    if not _same_origin(request):
        return _signin_page(request, runtime, next_url=next_url, error="Please sign in from this page.", status_code=403)
    key_id = key_id_for(runtime.sessions, key.strip()) if key.strip() else None
    if key_id is None:
        message = "That API key is not known here (or was revoked)." if key.strip() else "Enter your API key."
        return _signin_page(request, runtime, next_url=next_url, error=message, status_code=401)
    response = RedirectResponse(next_url, status_code=303)
    settings = runtime.settings
    token = sign(session_secret(settings), key_id)
    set_session_cookie(response, token, max_age=settings.session_max_age, secure=_secure(request))
    return response


@router.post("/signout")
def signout(request: Request) -> Response:
    """Forget the session cookie."""
    if not _same_origin(request):
        return Response(status_code=403)
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, secure=_secure(request))
    return response
