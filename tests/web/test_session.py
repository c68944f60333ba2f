"""Studio sign-in, in process (no browser): the local user on loopback, sign-in with an API key
when local_studio is off, the cookie's flags, and the API accepting that cookie (with the
CSRF header on unsafe methods) as well as Bearer keys."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from craftgen.accounts import create_user, revoke_key
from craftgen.api.deps import cookie_signer
from craftgen.app import create_app
from craftgen.config import Settings
from craftgen.runtime import Runtime, build_runtime
from craftgen.signin import COOKIE, SECRET_FILE, SessionSigner, session_secret

LOOPBACK = ("127.0.0.1", 50000)
ELSEWHERE = ("203.0.113.7", 50000)
CSRF = {"X-Craftgen-CSRF": "1"}
JOB = {"tool": "pattern", "prompt": "gingham", "width": 100}  # refused by the engine (422): no worker needed


@pytest.fixture()
def make_client(tmp_path: Path) -> Iterator[Callable[..., tuple[TestClient, Runtime]]]:
    clients: list[TestClient] = []

    def make(*, client: tuple[str, int] = LOOPBACK, **overrides: Any) -> tuple[TestClient, Runtime]:
        settings = Settings(data_dir=tmp_path / "data", device="cpu", **overrides)
        runtime = build_runtime(settings)
        test_client = TestClient(
            create_app(runtime), base_url="http://127.0.0.1:8000", client=client, follow_redirects=False
        )
        clients.append(test_client)
        return test_client, runtime

    yield make
    for test_client in clients:
        test_client.close()


def test_local_studio_signs_a_loopback_visitor_in_with_a_strict_cookie(make_client: Callable[..., Any]) -> None:
    client, runtime = make_client()
    home = client.get("/")
    assert home.status_code == 200 and "Signed in as <strong>local</strong>" in home.text
    cookie = home.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "Path=/", "SameSite=strict"):
        assert flag.lower() in cookie.lower(), cookie
    assert home.headers["content-security-policy"].startswith("default-src 'self'")

    # The cookie now signs API calls: reads as they are, writes only with the CSRF header.
    assert client.get("/v1/jobs").json() == {"jobs": [], "next_cursor": None}
    forged = client.post("/v1/jobs", json=JOB)
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "forbidden" and "X-Craftgen-CSRF" in forged.json()["error"]["message"]
    refused = client.post("/v1/jobs", json=JOB, headers=CSRF)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "width"

    # A second visit reuses the same user (and sets no new cookie).
    again = client.get("/tools/pattern")
    assert again.status_code == 200 and "set-cookie" not in again.headers
    with runtime.sessions() as session:
        from sqlalchemy import func, select

        from craftgen.db.tables import User

        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_local_studio_does_not_sign_in_visitors_from_other_machines(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(client=ELSEWHERE)
    response = client.get("/tools/pattern?image=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Ftools%2Fpattern%3Fimage%3Dx"
    assert "set-cookie" not in response.headers


def test_signin_with_an_api_key_when_local_studio_is_off(make_client: Callable[..., Any]) -> None:
    client, runtime = make_client(local_studio=False)
    _, key = create_user(runtime.sessions, name="maker", plan="pro")
    assert client.get("/").headers["location"] == "/signin?next=%2F"
    assert client.get("/v1/jobs").status_code == 401

    wrong = client.post("/signin", data={"key": "cg_nope", "next": "/images"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    assert 'role="alert"' in wrong.text and 'aria-invalid="true"' in wrong.text

    other_site = client.post("/signin", data={"key": key}, headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403 and "set-cookie" not in other_site.headers

    signed_in = client.post("/signin", data={"key": key, "next": "/images"})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/images"
    assert "Signed in as <strong>maker</strong>" in client.get("/images").text
    assert client.get("/v1/jobs").status_code == 200

    # Revoking the key ends the studio session made from it.
    assert revoke_key(runtime.sessions, user_id=_user_id(runtime, "maker"), prefix=key[:10])
    assert client.get("/v1/jobs").status_code == 401
    assert client.get("/").status_code == 303

    # Sign-out forgets the cookie.
    client.cookies.clear()
    client.post("/signin", data={"key": create_user(runtime.sessions, name="second")[1]})
    out = client.post("/signout")
    assert out.status_code == 303 and "max-age=0" in out.headers["set-cookie"].lower()
    assert client.get("/v1/jobs").status_code == 401


def _user_id(runtime: Runtime, name: str) -> str:
    from sqlalchemy import select

    from craftgen.db.tables import User

    with runtime.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.name == name))
    assert user_id is not None
    return user_id


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_signin_only_returns_to_this_site(make_client: Callable[..., Any], target: str) -> None:
    client, runtime = make_client(local_studio=False)
    _, key = create_user(runtime.sessions, name="maker")
    assert client.post("/signin", data={"key": key, "next": target}).headers["location"] == "/"


def test_forged_expired_and_bearer(make_client: Callable[..., Any]) -> None:
    client, runtime = make_client(session_max_age=60)
    signer = cookie_signer(runtime)
    assert signer.max_age == 60
    client.get("/")
    token = client.cookies[COOKIE]
    key_id = signer.verify(token)
    assert key_id is not None

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    another = SessionSigner(secret=b"another secret", max_age=60)
    for bad in (forged, signer.sign(key_id, now=0), another.sign(key_id), "junk"):
        client.cookies.clear()
        client.cookies.set(COOKIE, bad)
        assert client.get("/v1/jobs").status_code == 401, bad

    # A Bearer key wins over any cookie and needs no CSRF header.
    _, key = create_user(runtime.sessions, name="api-user")
    response = client.post("/v1/jobs", json=JOB, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422


def test_the_secret_is_made_once_private_and_shared(tmp_path: Path) -> None:
    first = session_secret(configured="", data_dir=tmp_path / "fresh")
    path = tmp_path / "fresh" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64 and [p.name for p in path.parent.iterdir()] == [SECRET_FILE]
    assert session_secret(configured="", data_dir=tmp_path / "fresh") == first
    assert session_secret(configured="configured", data_dir=tmp_path / "fresh") == b"configured"
