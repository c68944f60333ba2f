"""The app `craftgen serve` runs: the API plus the studio's pages and static files.

The studio is web pages over the same API, signed in by a cookie instead of a key; it is added
here, on top, so the API package never imports the studio.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from craftgen.api.app import create_api
from craftgen.config import Settings
from craftgen.runtime import Runtime, build_runtime
from craftgen.web import routes as studio


def create_app(runtime: Runtime) -> FastAPI:
    app = create_api(runtime)
    app.include_router(studio.router)
    app.mount("/static", StaticFiles(directory=studio.STATIC_DIR), name="static")
    return app


def app_from_environment() -> FastAPI:
    """The app built from CRAFTGEN_* variables: what each of several API processes imports
    (`craftgen api --processes N` runs uvicorn's workers, one event loop per core)."""
    return create_app(build_runtime(Settings()))
