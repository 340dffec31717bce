"""How the security layer is tuned: lifetimes, hashing cost, cookies, CORS, bootstrap.

A frozen value built once. ``SecurityConfig.from_settings`` reads the optional
``Settings`` fields named below when they exist, so a deployment configures it with
``HEADWATER_*`` variables like everything else; tests pass a config directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from headwater.errors import InvalidInput
from headwater.settings import Settings


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """argon2id cost. The defaults are argon2-cffi's (RFC 9106 "low memory" profile)."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4
    min_length: int = 10
    #: A cap keeps one login from costing more than hashing ~1 KiB.
    max_length: int = 1024


#: For tests only: the cheapest parameters argon2 accepts. Never in production.
FAST_PASSWORDS = PasswordPolicy(time_cost=1, memory_cost_kib=8, parallelism=1, min_length=8)


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    #: Access tokens are short-lived: revocation is also checked (see revocation.py),
    #: but a short life bounds what a stolen token is worth.
    access_token_seconds: int = 10 * 60
    #: Sliding: each rotation issues a new refresh token with this life.
    refresh_token_seconds: int = 14 * 24 * 3600
    #: Absolute: a login session (and its refresh family) ends this long after login.
    session_max_seconds: int = 30 * 24 * 3600
    #: The dashboard's cookie session.
    cookie_session_seconds: int = 12 * 3600
    #: How long a node trusts its cached "is this session/account/key still valid?"
    #: answer. Revocations made on this node apply at once; on other nodes within this.
    revocation_cache_seconds: float = 5.0
    #: Clock skew tolerated between nodes when checking exp/iat.
    clock_leeway_seconds: int = 5
    passwords: PasswordPolicy = field(default_factory=PasswordPolicy)
    #: At most this many argon2 hashes run at once: each holds memory_cost of RAM.
    max_concurrent_hashes: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    session_cookie: str = "hw_session"
    csrf_cookie: str = "hw_csrf"
    csrf_header: str = "x-csrf-token"
    #: Send cookies only over HTTPS. Off only for plain-HTTP development.
    cookie_secure: bool = True
    #: Origins allowed to call the API from a browser. Never "*": credentials are allowed.
    cors_origins: tuple[str, ...] = ()
    #: Created at start-up if no account has this email (the demo's platform admin).
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: str | None = None

    def __post_init__(self) -> None:
        if "*" in self.cors_origins:
            raise InvalidInput(
                "CORS origins must be listed explicitly: '*' with credentials would let "
                "any site act as a signed-in user"
            )
        for origin in self.cors_origins:
            if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise InvalidInput(f"a CORS origin is scheme://host[:port], not {origin!r}")
        if (self.bootstrap_admin_email is None) != (self.bootstrap_admin_password is None):
            raise InvalidInput("set both bootstrap admin email and password, or neither")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SecurityConfig:
        """Defaults, overridden by the optional security fields of ``settings``."""
        values: dict[str, Any] = {}
        for name in (
            "access_token_seconds",
            "refresh_token_seconds",
            "session_max_seconds",
            "cookie_session_seconds",
            "revocation_cache_seconds",
            "cookie_secure",
            "bootstrap_admin_email",
        ):
            value = getattr(settings, name, None)
            if value is not None:
                values[name] = value
        origins = getattr(settings, "cors_origins", None)
        if origins:
            values["cors_origins"] = tuple(origins)
        password = getattr(settings, "bootstrap_admin_password", None)
        if password is not None:
            values["bootstrap_admin_password"] = (
                password.get_secret_value() if hasattr(password, "get_secret_value") else password
            )
        if getattr(settings, "fast_password_hashing", False):
            values["passwords"] = FAST_PASSWORDS
        return cls(**{**values, **overrides})

    def with_(self, **changes: Any) -> SecurityConfig:
        return replace(self, **changes)
