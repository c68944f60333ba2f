"""Abuse that held before #13 and must not again: parallel password guesses (every attempt is
counted before its password is checked), many accounts guessed from one address, a disabled
user signing in with an API key, an owner undoing moderation by unpublishing and publishing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from craftgen import accounts
from craftgen.accounts import check_credentials, sign_up
from craftgen.errors import TooManyAttempts
from craftgen.signin import COOKIE
from craftgen.signin_policy import SignInPolicy
from tests.api.conftest import Api, assert_error

PASSWORD = "correct horse battery"


def test_a_right_password_among_parallel_wrong_ones_does_not_sign_in_once_paused(
    make_db_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = make_db_api()
    sessions = api.runtime.sessions
    sign_up(sessions, name="maker", password=PASSWORD, min_password_length=10)
    policy = SignInPolicy(max_failures=5, lockout_seconds=60, client_max_failures=1000)
    checked: list[str] = []
    real_verify = accounts._verify

    def slow_verify(password_hash: str, password: str) -> bool:
        # Every guess is still being checked when the right password arrives.
        checked.append(password)
        time.sleep(0.8)
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "_verify", slow_verify)
    outcomes: dict[str, object] = {}

    def attempt(password: str) -> None:
        try:
            outcomes[password] = check_credentials(sessions, name="maker", password=password, policy=policy)
        except TooManyAttempts as paused:
            outcomes[password] = paused

    wrong = [threading.Thread(target=attempt, args=(f"guess number {n}",)) for n in range(19)]
    for thread in wrong:
        thread.start()
    time.sleep(0.4)  # the 19 wrong guesses have all been counted by now
    right = threading.Thread(target=attempt, args=(PASSWORD,))
    right.start()
    for thread in (*wrong, right):
        thread.join(timeout=30)

    assert isinstance(outcomes[PASSWORD], TooManyAttempts), outcomes[PASSWORD]
    # Only the attempts within the limit had their password checked at all.
    assert len(checked) == policy.max_failures, len(checked)
    assert all(isinstance(outcomes[f"guess number {n}"], TooManyAttempts | type(None)) for n in range(19))
    with pytest.raises(TooManyAttempts):
        check_credentials(sessions, name="maker", password=PASSWORD, policy=policy)


def test_a_right_password_is_refused_if_the_pause_began_while_it_was_checked(
    make_db_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = make_db_api()
    sessions = api.runtime.sessions
    user = sign_up(sessions, name="maker", password=PASSWORD, min_password_length=10)
    policy = SignInPolicy(max_failures=2, lockout_seconds=60)
    real_verify = accounts._verify

    def verify_while_guesses_arrive(password_hash: str, password: str) -> bool:
        # While the right password is checked, two more attempts arrive: the second starts the pause.
        accounts._count_attempt(sessions, user.id, policy=policy, now=time.time())
        with pytest.raises(TooManyAttempts):
            accounts._count_attempt(sessions, user.id, policy=policy, now=time.time())
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "_verify", verify_while_guesses_arrive)

    with pytest.raises(TooManyAttempts):
        check_credentials(sessions, name="maker", password=PASSWORD, policy=policy)


def test_one_address_guessing_many_accounts_is_paused(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api(local_studio=False, signin_client_max_failures=3, signin_max_failures=100)
    client = api.client
    sign_up(api.runtime.sessions, name="maker", password=PASSWORD, min_password_length=10)

    # A right password gives its attempt back: it does not use up the address's budget.
    for _ in range(3):
        ok = client.post("/signin", data={"name": "maker", "password": PASSWORD}, follow_redirects=False)
        assert ok.status_code == 303
        client.cookies.clear()
    for name in ("alice", "bob", "maker"):
        assert client.post("/signin", data={"name": name, "password": "a wrong guess"}).status_code == 401
    paused = client.post("/signin", data={"name": "maker", "password": PASSWORD})
    assert paused.status_code == 429 and "from your address" in paused.text
    assert COOKIE not in client.cookies


def test_a_disabled_user_cannot_sign_in_with_an_api_key(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api(local_studio=False)
    boss = api.user("boss", role="admin")
    _, key = accounts.create_user(api.runtime.sessions, name="maker")
    maker = api.user_id({"Authorization": f"Bearer {key}"})
    assert api.client.post(f"/v1/admin/users/{maker}/disable", headers=boss).status_code == 200

    refused = api.client.post("/signin", data={"key": key}, follow_redirects=False)

    assert refused.status_code == 403 and "disabled" in refused.text
    assert COOKIE not in api.client.cookies and "set-cookie" not in refused.headers


def _published(api: Api, owner: dict[str, str]) -> str:
    body = {"tool": "text", "prompt": "a rude doodle", "seed": 1, "width": 64, "height": 64, "steps": 2}
    submitted = api.client.post("/v1/jobs", headers=owner, json=body)
    assert submitted.status_code == 202, submitted.text
    assert api.worker().run_once() == 1
    job = api.client.get(f"/v1/jobs/{submitted.json()['id']}", headers=owner).json()
    image_id = str(job["outputs"][0]["image_id"])
    assert api.client.post(f"/v1/images/{image_id}/publish", headers=owner).status_code == 200
    return image_id


def _in_gallery(api: Api, viewer: dict[str, str]) -> list[str]:
    return [item["id"] for item in api.client.get("/v1/gallery", headers=viewer).json()["items"]]


def test_unpublish_and_publish_again_does_not_undo_a_hide(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api(report_hide_threshold=1)
    ada, bea, boss = api.user("ada"), api.user("bea"), api.user("boss", role="admin")
    reported = _published(api, ada)
    hidden_by_admin = _published(api, ada)
    assert api.client.post(f"/v1/images/{reported}/report", headers=bea, json={"reason": "rude"}).json()["hidden"]
    assert api.client.post(f"/v1/admin/images/{hidden_by_admin}/hide", headers=boss).status_code == 204

    for image_id in (reported, hidden_by_admin):
        assert api.client.delete(f"/v1/images/{image_id}/publish", headers=ada).status_code == 204
        assert api.client.post(f"/v1/images/{image_id}/publish", headers=ada, json={"title": "fine"}).status_code == 200

    assert _in_gallery(api, bea) == []
    assert api.client.get(f"/v1/images/{reported}", headers=bea).status_code == 404
    review = api.client.get("/v1/admin/reports", headers=boss).json()["images"]
    assert [(image["item"]["id"], image["reports"], image["hidden"]) for image in review] == [(reported, 1, True)]
    # Only an admin unhides.
    assert api.client.post(f"/v1/admin/images/{reported}/unhide", headers=boss).status_code == 204
    assert _in_gallery(api, bea) == [reported]


def test_an_image_taken_back_while_hidden_is_private_once_an_admin_unhides_it(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    ada, bea, boss = api.user("ada"), api.user("bea"), api.user("boss", role="admin")
    image_id = _published(api, ada)
    assert api.client.post(f"/v1/admin/images/{image_id}/hide", headers=boss).status_code == 204
    assert api.client.delete(f"/v1/images/{image_id}/publish", headers=ada).status_code == 204
    assert api.client.delete(f"/v1/images/{image_id}/publish", headers=ada).status_code == 404

    assert api.client.post(f"/v1/admin/images/{image_id}/unhide", headers=boss).status_code == 204

    assert _in_gallery(api, bea) == []
    assert api.client.get(f"/v1/images/{image_id}", headers=ada).json()["public"] is False


def test_api_keys_per_account_are_capped(make_api: Callable[..., Api]) -> None:
    api = make_api(max_api_keys=3)
    ada = api.user("ada")  # made with its first key

    made = [api.client.post("/v1/keys", headers=ada) for _ in range(3)]

    assert [response.status_code for response in made] == [201, 201, 409]
    assert_error(made[2], 409, "conflict", message_contains="revoke one first")
    prefix = made[0].json()["prefix"]
    assert api.client.delete(f"/v1/keys/{prefix}", headers=ada).status_code == 204
    assert api.client.post("/v1/keys", headers=ada).status_code == 201
