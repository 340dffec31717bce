"""The security module with access tokens of 3 s and no clock leeway, as
``headwater serve`` loads it: browser pages must refresh before every expiry."""

from __future__ import annotations

from typing import Final

from headwater.http._security import SecurityModule
from tests.security.support import security_config

TOKEN_SECONDS: Final = 3

module = SecurityModule(
    security_config(
        cookie_secure=False,
        revocation_cache_seconds=0.5,
        access_token_seconds=TOKEN_SECONDS,
        clock_leeway_seconds=0,
    )
)
