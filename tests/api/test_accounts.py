"""Accounts through HTTP: sign up and sign in on the web with a password (argon2id, a session
cookie), sign out revoking that session, API keys made, listed and revoked, disabled users."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from craftgen.db.tables import User
from craftgen.signin import COOKIE
from tests.api.conftest import Api, assert_error

CSRF = {"X-Craftgen-CSRF": "1"}
PASSWORD = "correct horse battery"


def test_sign_up_sign_out_and_sign_in_with_a_password(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api(local_studio=False)
    client = api.client

    # 1. Sign up: a free account, signed in at once with an HttpOnly, SameSite cookie.
    assert client.get("/signup").status_code == 200
    short = client.post("/signup", data={"name": "maker", "password": "short"})
    assert short.status_code == 422 and "at least 10 characters" in short.text and COOKIE not in client.cookies
    forged = client.post(
        "/signup", data={"name": "maker", "password": PASSWORD}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403 and COOKIE not in client.cookies
    signed_up = client.post("/signup", data={"name": "maker", "password": PASSWORD}, follow_redirects=False)
    assert signed_up.status_code == 303
    cookie = signed_up.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    me = client.get("/v1/me").json()
    assert (me["name"], me["plan"], me["role"]) == ("maker", "free", "user")
    taken = client.post("/signup", data={"name": "maker", "password": PASSWORD})
    assert taken.status_code == 422 and "already exists" in taken.text

    # The password is kept only as an argon2id hash.
    with api.runtime.sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.name == "maker"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored

    # 2. Sign out: the session key behind the cookie is revoked, so a copy of the cookie is useless.
    copied = client.cookies[COOKIE]
    assert client.post("/signout", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, copied)
    assert client.get("/v1/me").status_code == 401
    client.cookies.clear()

    # 3. Sign in with the password (a wrong one is refused without a cookie).
    wrong = client.post("/signin", data={"name": "maker", "password": "not the password"})
    assert wrong.status_code == 401 and COOKIE not in client.cookies
    unknown = client.post("/signin", data={"name": "nobody", "password": PASSWORD})
    assert unknown.status_code == 401 and "do not match" in unknown.text
    signed_in = client.post(
        "/signin", data={"name": "maker", "password": PASSWORD, "next": "/images"}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/images"
    assert client.get("/v1/me").json()["name"] == "maker"
    kinds = [key["kind"] for key in client.get("/v1/keys").json()["keys"]]
    assert kinds == ["session"], "the first sign-in's key is revoked and no longer listed"


def test_api_keys_are_made_listed_and_revoked(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    ada, bea = api.user("ada"), api.user("bea")

    made = api.client.post("/v1/keys", headers=ada)
    assert made.status_code == 201
    new_key = made.json()["key"]
    assert new_key.startswith("cg_") and made.json()["prefix"] == new_key[:10] and made.json()["kind"] == "api"
    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {new_key}"}).json()["name"] == "ada"

    listed = api.client.get("/v1/keys", headers=ada).json()["keys"]
    assert [key["prefix"] for key in listed] == [new_key[:10], ada["Authorization"][7:17]]
    assert new_key not in str(listed), "a key is shown only once"

    assert api.client.delete(f"/v1/keys/{new_key[:10]}", headers=bea).status_code == 404, "not bea's key"
    assert api.client.delete(f"/v1/keys/{new_key[:10]}", headers=ada).status_code == 204
    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {new_key}"}).status_code == 401
    assert api.client.delete(f"/v1/keys/{new_key[:10]}", headers=ada).status_code == 404
    assert api.client.get("/v1/keys", headers=ada).json()["keys"][0]["revoked_at"] is not None


def test_a_disabled_user_is_refused_with_a_clear_403(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api(local_studio=False)
    boss = api.user("boss", role="admin")
    client = api.client
    client.post("/signup", data={"name": "maker", "password": PASSWORD})
    made = client.post("/v1/keys", headers=CSRF).json()["key"]
    maker_id = client.get("/v1/me").json()["id"]

    assert api.client.post(f"/v1/admin/users/{maker_id}/disable", headers=api.user("bea")).status_code == 403
    assert client.post(f"/v1/admin/users/{maker_id}/disable", headers={**boss}).status_code == 200
    for response in (client.get("/v1/me"), client.get("/v1/me", headers={"Authorization": f"Bearer {made}"})):
        error = assert_error(response, 403, "forbidden")
        assert error["message"] == "this account has been disabled by an administrator"
    client.cookies.clear()
    refused = client.post("/signin", data={"name": "maker", "password": PASSWORD})
    assert refused.status_code == 403 and "disabled" in refused.text and COOKIE not in client.cookies


def test_repeated_wrong_passwords_pause_sign_in_then_it_works_again(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api(signin_max_failures=3, signin_lockout_seconds=1.5)
    client = api.client
    client.post("/signup", data={"name": "maker", "password": PASSWORD})
    client.cookies.clear()
    # 1. A wrong password, then the right one: the count starts again from zero.
    assert client.post("/signin", data={"name": "maker", "password": "guess 1"}).status_code == 401
    assert (
        client.post("/signin", data={"name": "maker", "password": PASSWORD}, follow_redirects=False).status_code == 303
    )
    client.cookies.clear()
    # 2. Three wrong in a row pause the account: even the right password is refused, saying why.
    for guess in ("guess 1", "guess 2"):
        assert client.post("/signin", data={"name": "maker", "password": guess}).status_code == 401
    assert client.post("/signin", data={"name": "maker", "password": "guess 3"}).status_code == 401
    paused = client.post("/signin", data={"name": "maker", "password": PASSWORD})
    assert paused.status_code == 429 and "too many wrong passwords" in paused.text.lower()
    assert COOKIE not in client.cookies
    # 3. Once the pause is over, the right password signs in.
    time.sleep(1.6)
    again = client.post("/signin", data={"name": "maker", "password": PASSWORD}, follow_redirects=False)
    assert again.status_code == 303 and COOKIE in client.cookies
