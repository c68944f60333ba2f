"""Users, passwords and API keys. Keys are random, shown once, and stored only as their SHA-256;
passwords are stored as argon2id hashes (argon2-cffi), rehashed when the parameters change.

A web sign-in with a password makes a fresh key of kind "session" whose id the studio cookie
names, so cookies and keys share one mechanism and signing out revokes that key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.session import transaction
from craftgen.db.tables import ApiKey, SigninThrottle, User
from craftgen.errors import Conflict, InvalidRequest, TooManyAttempts
from craftgen.signin_policy import SignInPolicy

PLANS = ("free", "pro")
ROLES = ("user", "admin")
KEY_KINDS = ("api", "session")
KEY_PREFIX = "cg_"
# Names show on public images; keep them short, plain and unambiguous in a URL.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,39}")
MAX_PASSWORD_CHARS = 1024  # argon2 hashes any length; this only bounds the work one request can ask for
DISABLED_MESSAGE = "this account has been disabled by an administrator"

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("craftgen: a password nobody has")  # so an unknown name costs the same time


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A key just made: the key itself (shown once) and its row's id and prefix."""

    key: str
    id: str
    prefix: str


def create_user(
    sessions: sessionmaker[Session],
    *,
    name: str,
    plan: str = "free",
    role: str = "user",
    password: str | None = None,
    min_password_length: int = 10,
) -> tuple[User, str]:
    """A new user and their first API key (the only time the key is visible)."""
    user, key = _insert_user(
        sessions, name=name, plan=plan, role=role, password=password, min_password_length=min_password_length, key=True
    )
    assert key is not None
    return user, key


def _insert_user(
    sessions: sessionmaker[Session],
    *,
    name: str,
    plan: str,
    role: str,
    password: str | None,
    min_password_length: int,
    key: bool,
) -> tuple[User, str | None]:
    if plan not in PLANS:
        raise InvalidRequest(f"plan must be one of {', '.join(PLANS)}, got {plan!r}", field="plan")
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, got {role!r}", field="role")
    if not name.strip():
        raise InvalidRequest("name must not be empty", field="name")
    password_hash = None
    if password is not None:
        check_password(password, min_length=min_password_length)
        password_hash = _hasher.hash(password)
    try:
        with transaction(sessions) as session:
            user = User(name=name.strip(), plan=plan, role=role, password_hash=password_hash)
            session.add(user)
            session.flush()
            first_key = _add_key(session, user.id).key if key else None
    except IntegrityError:
        raise InvalidRequest(f"a user named {name!r} already exists", field="name") from None
    return user, first_key


def sign_up(sessions: sessionmaker[Session], *, name: str, password: str, min_password_length: int) -> User:
    """A new free user who signs in with a password (the web's sign-up form); no API key yet."""
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(
            "name must be 2 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit", field="name"
        )
    user, _ = _insert_user(
        sessions,
        name=name,
        plan="free",
        role="user",
        password=password,
        min_password_length=min_password_length,
        key=False,
    )
    return user


def check_password(password: str, *, min_length: int) -> None:
    if len(password) < min_length:
        raise InvalidRequest(f"the password must be at least {min_length} characters long", field="password")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidRequest(f"the password must be at most {MAX_PASSWORD_CHARS} characters long", field="password")


def check_credentials(
    sessions: sessionmaker[Session],
    *,
    name: str,
    password: str,
    policy: SignInPolicy = SignInPolicy(),
    now: float | None = None,
    client: str | None = None,
) -> User | None:
    """The user a name and password belong to (disabled or not), or None.

    Every attempt is counted before its password is checked, in one write transaction on the
    user's row, so parallel guesses cannot all slip in before the first failure is counted: once
    `policy.max_failures` attempts in a row are wrong or still being checked, the account's
    sign-in pauses for `policy.lockout_seconds` (TooManyAttempts, even for the right password).
    `client` (the caller's address) is held to `policy.client_max_failures` wrong passwords per
    `policy.client_window_seconds`, whichever names it tries. Both counters live in the database,
    so every API replica sees the same ones.
    """
    moment = time.time() if now is None else now
    # 1. The client's budget, then the account's, both taken before any password is checked.
    if client is not None:
        _count_client_attempt(sessions, client, policy=policy, now=moment)
    with sessions() as session:
        user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None or user.password_hash is None or len(password) > MAX_PASSWORD_CHARS:
        _verify(_DUMMY_HASH, password[:MAX_PASSWORD_CHARS])  # the same time as a real check
        return None
    _count_attempt(sessions, user.id, policy=policy, now=moment)
    # 2. The password. A wrong one stays counted; the one that makes max_failures starts the pause.
    if not _verify(user.password_hash, password):
        _pause_if_over(sessions, user.id, policy=policy, now=moment)
        return None
    # 3. Right, unless parallel guesses paused the account meanwhile: then not even this one
    #    signs in. Otherwise the count starts again, and the client gets its attempt back.
    refusal: TooManyAttempts | None = None
    with transaction(sessions) as session:
        locked = session.scalar(select(User).where(User.id == user.id).with_for_update())
        if locked is not None and locked.signin_locked_until is not None and locked.signin_locked_until > moment:
            refusal = _paused(locked.signin_locked_until, moment, whose="for this account")
        else:
            changes: dict[str, object] = {"failed_signins": 0, "signin_locked_until": None}
            if _hasher.check_needs_rehash(user.password_hash):
                changes["password_hash"] = _hasher.hash(password)
            session.execute(update(User).where(User.id == user.id).values(**changes))
            if client is not None:
                session.execute(
                    update(SigninThrottle)
                    .where(SigninThrottle.client == client[:64], SigninThrottle.attempts > 0)
                    .values(attempts=SigninThrottle.attempts - 1)
                )
    if refusal is not None:
        raise refusal
    return user


def _paused(locked_until: float, now: float, *, whose: str) -> TooManyAttempts:
    minutes = max(1, round((locked_until - now) / 60))
    return TooManyAttempts(
        f"too many wrong passwords {whose}: try again in {minutes} minute{'s' if minutes != 1 else ''}",
        field="password",
    )


def _count_attempt(sessions: sessionmaker[Session], user_id: str, *, policy: SignInPolicy, now: float) -> None:
    """One more attempt on the account, or TooManyAttempts while it is paused (an attempt past
    the limit starts the pause itself: those before it are still being checked)."""
    refusal: TooManyAttempts | None = None
    with transaction(sessions) as session:
        user = session.scalar(select(User).where(User.id == user_id).with_for_update())
        if user is None:
            return
        if user.signin_locked_until is not None and user.signin_locked_until > now:
            refusal = _paused(user.signin_locked_until, now, whose="for this account")
        elif user.failed_signins >= policy.max_failures:
            user.failed_signins, user.signin_locked_until = 0, now + policy.lockout_seconds
            refusal = _paused(user.signin_locked_until, now, whose="for this account")
        else:
            user.failed_signins += 1
    if refusal is not None:
        raise refusal  # after the transaction, which keeps a pause it started


def _pause_if_over(sessions: sessionmaker[Session], user_id: str, *, policy: SignInPolicy, now: float) -> None:
    """A wrong password: the attempt that reached the limit starts the pause and resets the count."""
    with transaction(sessions) as session:
        session.execute(
            update(User)
            .where(User.id == user_id, User.failed_signins >= policy.max_failures)
            .values(failed_signins=0, signin_locked_until=now + policy.lockout_seconds)
        )


def _count_client_attempt(sessions: sessionmaker[Session], client: str, *, policy: SignInPolicy, now: float) -> None:
    """One more attempt from this address in its window, or TooManyAttempts past the limit."""
    key = client[:64]
    for _ in range(2):  # a first attempt from an address can race another's insert (PostgreSQL)
        try:
            with transaction(sessions) as session:
                row = session.scalar(select(SigninThrottle).where(SigninThrottle.client == key).with_for_update())
                if row is None:
                    session.add(SigninThrottle(client=key, window_start=now, attempts=1))
                    return
                if row.window_start + policy.client_window_seconds <= now:
                    row.window_start, row.attempts = now, 0
                if row.attempts >= policy.client_max_failures:
                    until = row.window_start + policy.client_window_seconds
                    raise _paused(until, now, whose="from your address")
                row.attempts += 1
                return
        except IntegrityError:
            continue


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_key(sessions: sessionmaker[Session], *, user_id: str, kind: str = "api") -> str:
    return create_key_row(sessions, user_id=user_id, kind=kind).key


def create_key_row(
    sessions: sessionmaker[Session], *, user_id: str, kind: str = "api", max_keys: int | None = None
) -> NewKey:
    """A new key; with `max_keys`, a Conflict once the user holds that many unrevoked API keys
    (counted under a lock on the user's row, so parallel requests cannot pass it together)."""
    with transaction(sessions) as session:
        if max_keys is not None and kind == "api":
            session.scalar(select(User.id).where(User.id == user_id).with_for_update())
            held = session.scalar(
                select(func.count())
                .select_from(ApiKey)
                .where(ApiKey.user_id == user_id, ApiKey.kind == "api", ApiKey.revoked_at.is_(None))
            )
            if (held or 0) >= max_keys:
                raise Conflict(
                    f"this account already holds {held} API keys, the most it may (CRAFTGEN_MAX_API_KEYS): "
                    "revoke one first"
                )
        return _add_key(session, user_id, kind=kind)


def _add_key(session: Session, user_id: str, *, kind: str = "api") -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(user_id=user_id, key_hash=hash_key(key), prefix=key[:10], kind=kind)
    session.add(row)
    session.flush()
    return NewKey(key=key, id=row.id, prefix=row.prefix)


def list_keys(sessions: sessionmaker[Session], *, user_id: str, limit: int = 100) -> list[ApiKey]:
    """The user's keys, newest first; revoked session keys (old sign-ins) are left out."""
    with sessions() as session:
        return list(
            session.scalars(
                select(ApiKey)
                .where(ApiKey.user_id == user_id)
                .where((ApiKey.kind == "api") | ApiKey.revoked_at.is_(None))
                .order_by(ApiKey.created_at.desc())
                .limit(limit)
            ).all()
        )


def revoke_key_id(sessions: sessionmaker[Session], *, key_id: str) -> None:
    """Revoke one key by its id (signing out revokes the sign-in's session key)."""
    with transaction(sessions) as session:
        session.execute(
            update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=time.time())
        )


def authenticate(sessions: sessionmaker[Session], key: str) -> User | None:
    """The user a key belongs to (disabled or not), or None for an unknown or revoked key."""
    with sessions() as session:
        return session.scalar(
            select(User)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
        )


def revoke_key(sessions: sessionmaker[Session], *, user_id: str, prefix: str) -> bool:
    with transaction(sessions) as session:
        key = session.scalar(
            select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        )
        if key is None:
            return False
        key.revoked_at = time.time()
        return True
