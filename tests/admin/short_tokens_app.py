"""The security module with access tokens of 4 s and no clock leeway, as ``headwater
serve`` loads it: the dashboard must refresh its sign-in before every expiry."""

from __future__ import annotations

from typing import Final

from headwater.http._security import SecurityModule
from tests.security.support import security_config

TOKEN_SECONDS: Final = 4

module = SecurityModule(
    security_config(
        cookie_secure=False,
        revocation_cache_seconds=0.5,
        access_token_seconds=TOKEN_SECONDS,
        clock_leeway_seconds=0,
    )
)
