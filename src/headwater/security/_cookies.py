"""The dashboard's session cookie and the CSRF token that goes with it.

The cookie is signed (itsdangerous, key derived for this purpose), httpOnly and
SameSite=Lax, and names a row of ``hw_sessions``, so logging out or signing out
everywhere ends it server-side, not just in the browser.

CSRF uses the HMAC-based synchronizer pattern: the token is HMAC(key, session id).
It needs no storage, is bound to the session (a token stolen from another session is
useless), and is sent back in the ``X-CSRF-Token`` header, which a cross-site form
cannot set. It is also offered in a readable cookie so the dashboard's JavaScript
can pick it up (double submit); the server never trusts the cookie's value alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from headwater.errors import TokenExpired, TokenInvalid
from headwater.security._opaque import derive_key, equal_text


class SessionCookies:
    def __init__(self, root_secret: str, *, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(
            derive_key(root_secret, "session-cookie"), salt="headwater.session"
        )
        self._csrf_key = derive_key(root_secret, "csrf")
        self.max_age_seconds = max_age_seconds

    def encode(self, session_id: str, account_id: str) -> str:
        return self._serializer.dumps({"sid": session_id, "sub": account_id})

    def decode(self, value: str) -> tuple[str, str]:
        """(session id, account id), or raise for an expired or forged cookie."""
        try:
            payload = self._serializer.loads(value, max_age=self.max_age_seconds)
        except SignatureExpired as exc:
            raise TokenExpired("the session has expired: sign in again") from exc
        except (BadSignature, ValueError, TypeError) as exc:
            raise TokenInvalid("the session cookie is not valid") from exc
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("sid"), str)
            or not isinstance(payload.get("sub"), str)
        ):
            raise TokenInvalid("the session cookie is not valid")
        return payload["sid"], payload["sub"]

    def csrf_token(self, session_id: str) -> str:
        mac = hmac.new(self._csrf_key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def csrf_matches(self, session_id: str, presented: str | None) -> bool:
        return presented is not None and equal_text(self.csrf_token(session_id), presented)
