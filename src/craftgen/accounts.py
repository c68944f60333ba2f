"""Users and API keys. Keys are random, shown once, and stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.session import transaction
from craftgen.db.tables import ApiKey, User
from craftgen.errors import InvalidRequest

PLANS = ("free", "pro")
KEY_PREFIX = "cg_"


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_user(sessions: sessionmaker[Session], *, name: str, plan: str = "free") -> tuple[User, str]:
    """A new user and their first API key (the only time the key is visible)."""
    if plan not in PLANS:
        raise InvalidRequest(f"plan must be one of {', '.join(PLANS)}, got {plan!r}", field="plan")
    if not name.strip():
        raise InvalidRequest("name must not be empty", field="name")
    try:
        with transaction(sessions) as session:
            user = User(name=name.strip(), plan=plan)
            session.add(user)
            session.flush()
            key = _add_key(session, user.id)
    except IntegrityError:
        raise InvalidRequest(f"a user named {name!r} already exists", field="name") from None
    return user, key


def create_key(sessions: sessionmaker[Session], *, user_id: str) -> str:
    with transaction(sessions) as session:
        return _add_key(session, user_id)


def _add_key(session: Session, user_id: str) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user_id, key_hash=hash_key(key), prefix=key[:10]))
    return key


def authenticate(sessions: sessionmaker[Session], key: str) -> User | None:
    """The user a key belongs to, or None for an unknown or revoked key."""
    with sessions() as session:
        return session.scalar(
            select(User)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
        )


def revoke_key(sessions: sessionmaker[Session], *, user_id: str, prefix: str) -> bool:
    with transaction(sessions) as session:
        key = session.scalar(select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.prefix == prefix))
        if key is None or key.revoked_at is not None:
            return False
        key.revoked_at = time.time()
        return True
