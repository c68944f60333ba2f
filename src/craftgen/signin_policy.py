"""The password sign-in throttle's settings (built by config.Settings, used by accounts.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignInPolicy:
    """How many wrong passwords in a row pause an account's sign-in, and for how long."""

    max_failures: int = 5
    lockout_seconds: float = 300.0
