"""The password sign-in throttle's settings and the API-key cap (built by config.Settings, used
by accounts.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignInPolicy:
    """How many wrong passwords in a row pause an account's sign-in, and for how long; and how
    many wrong passwords one client address may send in a window, whichever accounts they name."""

    max_failures: int = 5
    lockout_seconds: float = 300.0
    client_max_failures: int = 20
    client_window_seconds: float = 300.0
    max_api_keys: int = 25  # unrevoked API keys one account may hold (web sign-ins not counted)
