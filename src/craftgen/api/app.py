"""The API app factory: `create_api(runtime)` wires the /v1 routers, probes, error handlers and metrics.

The runtime is built by the entry point and passed in (stored on `app.state.runtime`), so
tests build an app on a temporary folder without touching the environment. The studio is
added on top by `craftgen.app.create_app`; the API knows nothing of it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from craftgen import __version__
from craftgen.api import (
    image_links,
    routes_account,
    routes_admin,
    routes_gallery,
    routes_images,
    routes_jobs,
    routes_meta,
    routes_uploads,
)
from craftgen.api.a1111 import errors as a1111_errors
from craftgen.api.a1111 import routes as a1111
from craftgen.api.bodies import RequestBodies
from craftgen.api.deps import current_user
from craftgen.api.docs import install_docs
from craftgen.api.errors import install_error_handlers
from craftgen.api.feed import JobFeed
from craftgen.api.metrics import metrics_registry
from craftgen.api.openai_images import errors as openai_errors
from craftgen.api.openai_images import routes as openai_images
from craftgen.api.shapes import ErrorBody
from craftgen.runtime import Runtime

OPENAI_PATHS = ("/v1/images/generations", "/v1/images/edits", "/v1/images/variations")


def create_api(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="craftgen",
        version=__version__,
        description="Seamless patterns, clipart with SVG cut files, cutouts, variations, outpainting, upscaling.",
        docs_url=None,  # served offline by install_docs, under a CSP
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.metrics = metrics_registry(sessions=runtime.sessions, queue=runtime.queue)
    # One change feed for every event stream this process serves (api/feed.py).
    app.state.job_feed = JobFeed(runtime.jobs, interval=runtime.settings.sse_interval)
    # A body is sized (and a JSON body's text checked) before any route parses it; added before
    # the error handlers, so their catch-all 500 middleware still wraps it.
    limits = runtime.settings.limits()
    app.add_middleware(
        RequestBodies,
        max_bytes=limits.max_body_bytes,
        max_multipart_bytes=limits.max_multipart_bytes,
        image_json_paths=(a1111.router.prefix + "/",),
        # The drop-in APIs' clients read their own error bodies, refusals of bodies included.
        error_shapes=(
            *((path, openai_errors.error_response) for path in OPENAI_PATHS),
            (a1111.router.prefix + "/", a1111_errors.error_response),
        ),
    )
    install_error_handlers(app)
    # The drop-in APIs check keys themselves, answering in their own error shapes; they come
    # first, so POST /v1/images/generations is never taken for one of our /v1/images/{id} routes.
    app.include_router(openai_images.router)
    app.include_router(image_links.router)  # signed links need no key
    app.include_router(a1111.router)
    # Everything under /v1 needs an API key; the probes and the docs do not.
    v1 = APIRouter(
        prefix="/v1",
        dependencies=[Depends(current_user)],
        responses={401: {"model": ErrorBody, "description": "No API key, or an unknown or revoked one."}},
    )
    routers = (routes_uploads, routes_jobs, routes_images, routes_gallery, routes_account, routes_admin, routes_meta)
    for module in routers:
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(routes_meta.probes)
    install_docs(app)
    return app
