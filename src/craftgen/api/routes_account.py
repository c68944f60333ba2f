"""/v1/me (plan, credits, usage) and /v1/keys (make, list and revoke API keys)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response

from craftgen import credits
from craftgen.accounts import create_key_row, list_keys, revoke_key
from craftgen.api.deps import RuntimeDep, UserDep
from craftgen.api.shapes import ErrorBody
from craftgen.api.shapes_accounts import KeyCreated, KeyList, MeOut, UsageOut, key_out
from craftgen.db.tables import ApiKey
from craftgen.errors import NotFound
from craftgen.jobs.usage import usage

router = APIRouter(tags=["account"])


@router.get("/me")
def me(runtime: RuntimeDep, user: UserDep) -> MeOut:
    """Who the caller is: plan, role, speed credits, this period's usage and the free-queue limit."""
    now = time.time()
    period = credits.period_of(now)
    allowance = runtime.settings.pro_monthly_credits if user.plan == "pro" else 0
    with runtime.sessions() as session:
        used = usage(session, user_id=user.id, period=period)
    _, next_start = credits.period_bounds(period)
    return MeOut(
        id=user.id,
        name=user.name,
        plan=user.plan,
        role=user.role,
        credits=credits.balance(user, allowance=allowance, now=now),
        monthly_credits=allowance,
        credits_period=period,
        credits_reset_at=next_start.date().isoformat(),
        usage=UsageOut(jobs=used.jobs, images=used.images),
        active_jobs=used.active_jobs,
        free_active_jobs=runtime.settings.free_active_jobs,
    )


@router.get("/keys", tags=["keys"])
def get_keys(runtime: RuntimeDep, user: UserDep) -> KeyList:
    """The caller's API keys (prefixes only) and current web sign-ins, newest first."""
    return KeyList(keys=[key_out(key) for key in list_keys(runtime.sessions, user_id=user.id)])


@router.post("/keys", status_code=201, tags=["keys"], responses={409: {"model": ErrorBody}})
def make_key(runtime: RuntimeDep, user: UserDep) -> KeyCreated:
    """A new API key; the key itself is in this response only (409 at CRAFTGEN_MAX_API_KEYS)."""
    max_keys = runtime.settings.signin_policy().max_api_keys
    new = create_key_row(runtime.sessions, user_id=user.id, max_keys=max_keys)
    with runtime.sessions() as session:
        row = session.get(ApiKey, new.id)
        assert row is not None
    return KeyCreated(key=new.key, **key_out(row).model_dump())


@router.delete("/keys/{prefix}", status_code=204, response_class=Response, tags=["keys"],
               responses={404: {"model": ErrorBody}})
def delete_key(prefix: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """Revoke a key (and every studio sign-in made with it)."""
    if not revoke_key(runtime.sessions, user_id=user.id, prefix=prefix):
        raise NotFound(f"no active key with prefix {prefix!r}")
    return Response(status_code=204)
