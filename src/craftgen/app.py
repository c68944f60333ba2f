"""The app `craftgen serve` runs: the API plus the studio's pages and static files.

The studio is web pages over the same API, signed in by a cookie instead of a key; it is added
here, on top, so the API package never imports the studio.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from craftgen.api.app import create_api
from craftgen.runtime import Runtime
from craftgen.web import routes as studio


def create_app(runtime: Runtime) -> FastAPI:
    app = create_api(runtime)
    app.include_router(studio.router)
    app.mount("/static", StaticFiles(directory=studio.STATIC_DIR), name="static")
    return app
