"""The security module as ``headwater serve --app tests.http.routes.serve_app:module`` loads it."""

from __future__ import annotations

from headwater.http._security import SecurityModule
from tests.security.support import security_config

module = SecurityModule(security_config(cookie_secure=False, revocation_cache_seconds=0.5))
