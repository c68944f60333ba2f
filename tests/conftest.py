"""Shared fixtures: one tiny-model engine per test session (built in-process, no download)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions

TEST_SIZE = 128  # small enough for CPU, large enough for the VAE's 8x and the UNet's 2 levels
TEST_STEPS = 3


@pytest.fixture(scope="session")
def options() -> EngineOptions:
    return EngineOptions(
        default_model="tiny",
        device="cpu",
        default_size=TEST_SIZE,
        default_steps=TEST_STEPS,
        upscale_tile=128,
        upscale_overlap=32,
    )


@pytest.fixture(scope="session")
def limits() -> Limits:
    return Limits()


@pytest.fixture(scope="session")
def engine(options: EngineOptions, limits: Limits) -> Engine:
    return Engine(options=options, limits=limits)


def smooth_image(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """A smooth, non-periodic RGB test picture (gradients and blobs), deterministic."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.3 * max(width, height)) ** 2))
        channels.append(255 * (0.5 * blob + 0.5 * xx / width * rng.uniform(0.2, 1)))
    return Image.fromarray(np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8))


@pytest.fixture()
def photo() -> Image.Image:
    return smooth_image(160, 120)


# Services ------------------------------------------------------------------------------------
# Tests that need PostgreSQL, Redis or an AWS stand-in use these. CI sets
# CRAFTGEN_REQUIRE_SERVICES=1: a service that is down then fails the run instead of skipping.

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def require_service(name: str, port: int) -> None:
    """Skip (or, under CRAFTGEN_REQUIRE_SERVICES=1, fail) when a local service is down."""
    import os

    if port_open(port):
        return
    message = f"{name} is not listening on 127.0.0.1:{port}"
    if os.environ.get("CRAFTGEN_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server mode on a free loopback port: the closest stand-in for SQS and S3 here."""
    import os
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
