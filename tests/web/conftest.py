"""The studio in a real browser: `craftgen serve` with the tiny model on loopback, driven by
Debian's Chromium through Playwright. Without /usr/bin/chromium the browser tests skip (or fail
under CRAFTGEN_REQUIRE_SERVICES=1, as in CI, where `.ci/run` installs it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.service.conftest import make_service, wait_ready

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"  # git-ignored; the README names it
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
RESULT_TIMEOUT = 180_000  # ms: the first job also waits for the worker to build the tiny model


@dataclass
class Studio:
    url: str
    log: Path
    env: dict[str, str]  # the server's environment: run `craftgen` commands against its data


# Module scope, not session: while Playwright's sync API is open, its asyncio loop counts as
# running in this thread, and tests elsewhere that start an event loop of their own would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CRAFTGEN_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """`craftgen serve --workers 1` on a free loopback port, with a fresh data folder."""
    root = tmp_path_factory.mktemp("studio")
    service = make_service(root)
    log = root / "serve.log"
    with open(log, "wb") as output:
        serve = subprocess.Popen(
            [sys.executable, "-m", "craftgen.cli", "serve", "--port", str(service.port), "--workers", "1"],
            env=service.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(service.url, serve, log)
        yield Studio(url=service.url, log=log, env=service.env)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=90)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


@pytest.fixture()
def context(browser: Browser, studio: Studio) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) at desktop size; closed after the test."""
    context = browser.new_context(base_url=studio.url, viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(30_000)  # generous: CI machines run other suites alongside
    # Errors the page reports only as window "error" events (e.g. a ResizeObserver loop) reach
    # the console this way, where the page fixture sees them.
    context.add_init_script("window.addEventListener('error', e => console.error(`window error: ${e.message}`))")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture()
def page(context: BrowserContext) -> Iterator[Page]:
    """A tab; the test fails if the studio's JavaScript threw anywhere on it."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Console errors too (a Content-Security-Policy refusal shows only there), except the line
    # Chromium logs for every 4xx answer, which the bad-input tests cause on purpose.
    page.on(
        "console",
        lambda message: errors.append(message.text)
        if message.type == "error" and not message.text.startswith("Failed to load resource")
        else None,
    )
    yield page
    assert not errors, f"JavaScript errors: {errors}"
