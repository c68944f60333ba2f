"""Plans and speed credits through HTTP, on SQLite and PostgreSQL: a pro job is charged once even
when redelivered, refunded once when it fails or is canceled while queued; the free queue limit;
the monthly refill; /v1/me."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from craftgen import credits
from craftgen.db.session import transaction
from craftgen.db.tables import CreditLedger, User
from tests.api.conftest import Api, assert_error

JOB = {"tool": "text", "prompt": "a button tin", "seed": 5, "width": 64, "height": 64, "steps": 2}


def _submit(api: Api, headers: dict[str, str], **fields: object) -> str:
    response = api.client.post("/v1/jobs", headers=headers, json={**JOB, **fields})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _ledger(api: Api, job_id: str) -> list[tuple[str, int]]:
    with api.runtime.sessions() as session:
        rows = session.execute(
            select(CreditLedger.reason, CreditLedger.delta)
            .where(CreditLedger.job_id == job_id)
            .order_by(CreditLedger.id)
        ).all()
    return [(row.reason, row.delta) for row in rows]


def _credits(api: Api, headers: dict[str, str]) -> int:
    return int(api.client.get("/v1/me", headers=headers).json()["credits"])


def test_a_redelivered_pro_job_is_charged_exactly_once(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    pat = api.user("pat", plan="pro")
    job_id = _submit(api, pat, num_images=2)
    assert (
        api.client.post("/v1/jobs", headers={**pat, "Idempotency-Key": "k"}, json={**JOB, "num_images": 2}).status_code
        == 202
    )
    again = api.client.post("/v1/jobs", headers={**pat, "Idempotency-Key": "k"}, json={**JOB, "num_images": 2})
    assert again.status_code == 202
    assert _credits(api, pat) == 200 - 2 - 2, "a retried submission (same Idempotency-Key) is not charged again"

    # A worker claims the job, starts it and dies: its lease runs out and a second worker runs it.
    (stale,) = api.runtime.queue.claim(worker="doomed", max_items=1, lease_seconds=0.2)
    assert stale.job_id == job_id and api.worker("doomed")._start(stale) is not None
    time.sleep(0.3)
    assert api.worker("second").run_once() == 2
    job = api.client.get(f"/v1/jobs/{job_id}", headers=pat).json()
    assert job["status"] == "succeeded"

    assert _ledger(api, job_id) == [("charge", -2)]
    assert _credits(api, pat) == 196


def test_a_job_that_fails_every_attempt_is_refunded_once(
    make_db_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = make_db_api(retry_delay=0, max_attempts=3)

    def broken(items: object, progress: object = None) -> object:
        raise RuntimeError("the GPU fell over")

    monkeypatch.setattr(api.runtime.engine, "run_batch", broken)
    pat = api.user("pat", plan="pro")
    job_id = _submit(api, pat, num_images=3)
    assert _credits(api, pat) == 197

    for _ in range(3):
        assert api.worker().run_once() == 1
    job = api.client.get(f"/v1/jobs/{job_id}", headers=pat).json()
    assert job["status"] == "failed" and "gave up after 3 attempts" in job["error"]["message"]
    assert _ledger(api, job_id) == [("charge", -3), ("refund", 3)]
    assert _credits(api, pat) == 200

    # A second refund (any code path that tries one) is refused by the database's UNIQUE(job_id, reason).
    with transaction(api.runtime.sessions) as session:
        assert credits.refund(session, job_id=job_id, now=time.time()) == 0
    assert _credits(api, pat) == 200 and len(_ledger(api, job_id)) == 2


def test_canceling_a_queued_job_gives_its_credits_back(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    pat = api.user("pat", plan="pro")
    job_id = _submit(api, pat, num_images=4)
    assert _credits(api, pat) == 196
    assert api.client.delete(f"/v1/jobs/{job_id}", headers=pat).json()["status"] == "canceled"
    assert _credits(api, pat) == 200 and _ledger(api, job_id) == [("charge", -4), ("refund", 4)]


def test_the_free_queue_takes_one_job_at_a_time_and_credits_jump_it(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api(pro_monthly_credits=1)
    fay, pat = api.user("fay"), api.user("pat", plan="pro")

    # 1. A free user: one job queued or running at a time.
    first = _submit(api, fay)
    refused = api.client.post("/v1/jobs", headers=fay, json=JOB)
    assert_error(refused, 429, "quota_exceeded", message_contains="one job at a time")

    # 2. A pro job with credits goes ahead of the free job queued before it...
    charged = api.client.post("/v1/jobs", headers=pat, json=JOB).json()
    assert charged["queue_position"] == 0
    assert api.client.get(f"/v1/jobs/{first}", headers=fay).json()["queue_position"] == 1
    # ...and without credits a pro job waits in the free queue, one at a time like everyone there.
    uncharged = api.client.post("/v1/jobs", headers=pat, json=JOB).json()
    assert uncharged["queue_position"] == 2
    out_of_credits = api.client.post("/v1/jobs", headers=pat, json=JOB)
    assert_error(out_of_credits, 429, "quota_exceeded", message_contains="credits")
    me = api.client.get("/v1/me", headers=pat).json()
    assert (me["credits"], me["monthly_credits"], me["active_jobs"]) == (0, 1, 2)

    # 3. Once the free job has run, fay may queue the next one.
    while api.worker().run_once():
        pass
    assert api.client.get(f"/v1/jobs/{first}", headers=fay).json()["status"] == "succeeded"
    _submit(api, fay)


def test_me_shows_plan_credits_usage_and_refills_each_month(make_db_api: Callable[..., Api]) -> None:
    api = make_db_api()
    pat = api.user("pat", plan="pro")
    _submit(api, pat, num_images=2)
    api.worker().run_once()
    me = api.client.get("/v1/me", headers=pat).json()
    period = credits.period_of(time.time())
    assert me["name"] == "pat" and me["plan"] == "pro" and me["role"] == "user"
    assert (me["credits"], me["monthly_credits"], me["credits_period"]) == (198, 200, period)
    assert me["usage"] == {"jobs": 1, "images": 2} and me["active_jobs"] == 0 and me["free_active_jobs"] == 1
    assert me["credits_reset_at"] > period and me["credits_reset_at"].endswith("-01")

    # Last month's leftovers don't carry over: a new month starts from the full allowance.
    with transaction(api.runtime.sessions) as session:
        session.execute(update(User).where(User.name == "pat").values(credits=3, credits_period="2000-01"))
    assert _credits(api, pat) == 200
    _submit(api, pat)
    assert _credits(api, pat) == 199

    fay = api.client.get("/v1/me", headers=api.user("fay")).json()
    assert (fay["plan"], fay["credits"], fay["monthly_credits"]) == ("free", 0, 0)
