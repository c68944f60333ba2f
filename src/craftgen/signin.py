"""Studio sign-in: a signed cookie that names an API key, so the browser's JavaScript never holds one.

The cookie is `<api key id>.<issued at>.<HMAC-SHA256 of both>`. Nothing is stored server-side:
the signature proves the server issued it, and every request looks the key up again, so
revoking the key ends the studio sessions made from it. The secret is the configured one
(CRAFTGEN_SESSION_SECRET) or, when that is empty, `<data dir>/session_secret` (random, written
once, mode 0600); several API processes on one machine share that file, while a scaled-out
deployment sets the setting so every replica signs alike. The API and the studio both use this
module, and it takes plain values, never Settings.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from craftgen.accounts import create_key, create_user, hash_key, revoke_key_id
from craftgen.db.tables import ApiKey, User
from craftgen.errors import InvalidRequest

COOKIE = "craftgen_session"
CSRF_HEADER = "X-Craftgen-CSRF"  # the studio's fetch calls send "1"; a cross-site form cannot
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_USER = "local"
LOCAL_PLAN = "pro"
SECRET_FILE = "session_secret"

_secrets: dict[tuple[str, str], bytes] = {}
_secrets_lock = threading.Lock()


# The secret ------------------------------------------------------------------------------------


def session_secret(*, configured: str, data_dir: Path) -> bytes:
    """The key that signs studio cookies: `configured` when set, else the one kept in `data_dir`
    (read or made once per process and data folder)."""
    cache_key = (configured, str(data_dir.resolve()))
    with _secrets_lock:
        if cache_key not in _secrets:
            _secrets[cache_key] = configured.encode("utf-8") or _stored_secret(data_dir)
        return _secrets[cache_key]


def _stored_secret(data_dir: Path) -> bytes:
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Write a private temporary file, then link it into place: linking fails if another
        # process got there first, so every process ends up reading the same secret.
        temporary = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    secret = path.read_text().strip().encode("utf-8")
    if not secret:
        raise RuntimeError(f"{path} is empty; delete it (a new one is made) or set CRAFTGEN_SESSION_SECRET")
    return secret


# Tokens ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionSigner:
    """Signs studio cookie tokens with one secret and accepts them for `max_age` seconds."""

    secret: bytes = field(repr=False)
    max_age: int

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a session signer needs a non-empty secret")
        if self.max_age <= 0:
            raise ValueError(f"max_age must be positive, got {self.max_age}")

    def sign(self, key_id: str, *, now: float | None = None) -> str:
        message = f"{key_id}.{int(time.time() if now is None else now)}"
        return f"{message}.{_signature(self.secret, message)}"

    def verify(self, token: str, *, now: float | None = None) -> str | None:
        """The API key id a token names, or None when it is forged, malformed or too old."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        key_id, issued, signature = parts
        if not hmac.compare_digest(signature, _signature(self.secret, f"{key_id}.{issued}")):
            return None
        age = (time.time() if now is None else now) - int(issued)
        return key_id if 0 <= age <= self.max_age else None


def session_signer(*, secret: str, data_dir: Path, max_age: int) -> SessionSigner:
    """The signer for a deployment's session settings (see `session_secret` for where the key comes from)."""
    return SessionSigner(secret=session_secret(configured=secret, data_dir=data_dir), max_age=max_age)


def _signature(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, f"craftgen-session:{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# Users -----------------------------------------------------------------------------------------


def user_for_key_id(sessions: sessionmaker[Session], key_id: str) -> User | None:
    """The owner of an API key that is still valid."""
    with sessions() as session:
        return session.scalar(
            select(User).join(ApiKey, ApiKey.user_id == User.id).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        )


def user_for_token(sessions: sessionmaker[Session], *, signer: SessionSigner, token: str) -> User | None:
    """The user a session cookie speaks for, or None when it is forged, too old or its key revoked."""
    key_id = signer.verify(token)
    return user_for_key_id(sessions, key_id) if key_id else None


def revoke_session_key(sessions: sessionmaker[Session], key_id: str) -> None:
    """Revoke the key behind a password sign-in; a key the user made themselves is left alone."""
    with sessions() as session:
        kind = session.scalar(select(ApiKey.kind).where(ApiKey.id == key_id))
    if kind == "session":
        revoke_key_id(sessions, key_id=key_id)


def key_id_for(sessions: sessionmaker[Session], key: str) -> str | None:
    """The id of a valid API key, given the key itself (for signing in with it)."""
    with sessions() as session:
        return session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)))


def local_key_id(sessions: sessionmaker[Session]) -> str:
    """A valid key id of the user "local" (a pro user made on first use)."""
    for _ in range(2):  # a second pass covers another request creating the user at the same moment
        key_id = None
        with sessions() as session:
            user_id = session.scalar(select(User.id).where(User.name == LOCAL_USER))
            if user_id is not None:
                key_id = session.scalar(
                    select(ApiKey.id)
                    .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                    .order_by(ApiKey.created_at)
                )
        if user_id is None:
            with contextlib.suppress(InvalidRequest):  # it exists now
                create_user(sessions, name=LOCAL_USER, plan=LOCAL_PLAN)
            continue
        if key_id is None:
            create_key(sessions, user_id=user_id)
            continue
        return key_id
    raise RuntimeError("could not find or create the local studio user")


# The cookie ------------------------------------------------------------------------------------


def set_session_cookie(response: Response, token: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
