"""Security configuration refuses what would be unsafe."""

from __future__ import annotations

import pytest

from headwater.errors import InvalidInput
from headwater.security._config import FAST_PASSWORDS, SecurityConfig
from headwater.settings import Settings


def test_a_wildcard_cors_origin_is_refused() -> None:
    with pytest.raises(InvalidInput, match="explicitly"):
        SecurityConfig(cors_origins=("*",))


@pytest.mark.parametrize("origin", ["example.com", "https://example.com/", "ftp://x.example"])
def test_a_malformed_cors_origin_is_refused(origin: str) -> None:
    with pytest.raises(InvalidInput):
        SecurityConfig(cors_origins=(origin,))


def test_bootstrap_needs_both_email_and_password() -> None:
    with pytest.raises(InvalidInput):
        SecurityConfig(bootstrap_admin_email="root@example.com")


def test_production_defaults_are_argon2_cffi_defaults() -> None:
    from argon2 import PasswordHasher

    defaults, hasher = SecurityConfig().passwords, PasswordHasher()
    assert defaults.time_cost == hasher.time_cost
    assert defaults.memory_cost_kib == hasher.memory_cost
    assert defaults.parallelism == hasher.parallelism
    assert SecurityConfig().cookie_secure


def test_from_settings_uses_defaults_without_security_settings() -> None:
    config = SecurityConfig.from_settings(Settings(), passwords=FAST_PASSWORDS)
    assert config.access_token_seconds == 600
    assert config.passwords is FAST_PASSWORDS
