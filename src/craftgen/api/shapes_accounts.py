"""The JSON bodies of /v1/me and /v1/keys."""

from __future__ import annotations

from pydantic import BaseModel

from craftgen.db.tables import ApiKey


class UsageOut(BaseModel):
    jobs: int  # submitted this credit period
    images: int  # made this credit period


class MeOut(BaseModel):
    id: str
    name: str
    plan: str
    role: str
    credits: int  # speed credits left this period (a job costs one per image)
    monthly_credits: int  # the allowance each period starts with (0 on the free plan)
    credits_period: str  # "YYYY-MM" (UTC)
    credits_reset_at: str  # ISO date the next period starts
    usage: UsageOut
    active_jobs: int  # queued or running now
    free_active_jobs: int  # jobs without credits that may be queued or running at once


class KeyOut(BaseModel):
    prefix: str
    kind: str  # api | session (a web sign-in)
    created_at: float
    revoked_at: float | None


class KeyCreated(KeyOut):
    key: str  # shown only this once


class KeyList(BaseModel):
    keys: list[KeyOut]


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(prefix=key.prefix, kind=key.kind, created_at=key.created_at, revoked_at=key.revoked_at)
