"""An API app on a temporary folder, users with keys, and a worker to run its jobs in-process."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from craftgen.accounts import authenticate, create_user
from craftgen.app import create_app
from craftgen.config import Settings
from craftgen.jobs.worker import Worker
from craftgen.processes import build_worker
from craftgen.runtime import Runtime, build_runtime
from tests.pg import fresh_postgres_database


def _no_traceback(response: httpx.Response) -> None:
    # Every test checks this for free: no response may ever carry a stack trace.
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        response.read()
        assert "Traceback" not in response.text


@dataclass
class Api:
    client: TestClient
    runtime: Runtime

    def user(self, name: str, *, plan: str = "free", role: str = "user") -> dict[str, str]:
        """A new user's auth headers."""
        _, key = create_user(self.runtime.sessions, name=name, plan=plan, role=role)
        return {"Authorization": f"Bearer {key}"}

    def user_id(self, headers: dict[str, str]) -> str:
        user = authenticate(self.runtime.sessions, headers["Authorization"].removeprefix("Bearer "))
        assert user is not None
        return user.id

    def worker(self, name: str = "test-worker") -> Worker:
        return build_worker(self.runtime, name=name)

    def upload(self, headers: dict[str, str], image: Image.Image) -> str:
        response = self.client.post("/v1/uploads", headers=headers, files={"file": ("in.png", png(image), "image/png")})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@pytest.fixture()
def make_api(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> Api:
        settings = Settings(
            data_dir=tmp_path / f"data{len(clients)}",
            device="cpu",
            default_size=128,
            default_steps=3,
            upscale_tile=128,
            upscale_overlap=32,
            progress_interval=0,
            poll_interval=0.02,
            sse_interval=0.02,
            **overrides,
        )
        runtime = build_runtime(settings)
        client = TestClient(create_app(runtime))
        client.event_hooks["response"].append(_no_traceback)
        clients.append(client)
        return Api(client=client, runtime=runtime)

    yield make
    for client in clients:
        client.close()


@pytest.fixture()
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture(params=["sqlite", "postgresql"])
def make_db_api(
    request: pytest.FixtureRequest, make_api: Callable[..., Api], tmp_path: Path
) -> Iterator[Callable[..., Api]]:
    """make_api on SQLite (embedded) and on a fresh PostgreSQL database (scaled out); the queue
    stays the SQLite lease table in both (the queue backends have their own contract suite)."""
    with ExitStack() as stack:
        made: list[Api] = []

        def make(**overrides: Any) -> Api:
            if request.param == "postgresql":
                overrides = {
                    "database_url": stack.enter_context(fresh_postgres_database()),
                    "queue_url": f"sqlite:///{tmp_path / f'queue{len(made)}.db'}",
                    **overrides,
                }
            made.append(make_api(**overrides))
            return made[-1]

        yield make
        for each in made:  # before the database is dropped
            each.client.close()
            each.runtime.db.dispose()


class HttpResponse(Protocol):
    """What assert_error reads of a response (TestClient's comes from httpx2 under Starlette 1.x)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


def assert_error(
    response: HttpResponse,
    status: int,
    code: str,
    *,
    field: str | None = None,
    message_contains: str | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Assert the API's one error shape, `{"error": {"code", "message", "field"}}`, with this status,
    code and field (None: the error names no field); return the error for further checks."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "field"}, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert "Traceback" not in error["message"], error
    assert (error["code"], error["field"]) == (code, field), error
    for words in (message_contains,) if isinstance(message_contains, str) else message_contains:
        assert words in error["message"], (words, error)
    return error


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sticker() -> Image.Image:
    """A blue block on a plain light background: something cutout can cut."""
    image = Image.new("RGB", (128, 128), (245, 245, 245))
    image.paste((30, 90, 200), (30, 30, 90, 100))
    return image


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's calling card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
