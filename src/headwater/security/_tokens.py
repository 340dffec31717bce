"""Short-lived JWT access tokens (HS256, signed with a key derived from the runtime secret).

Claims: ``sub`` (account id), ``tid`` (tenant, or null), ``roles``, ``tier``, ``sid``
(the login session, so logout can revoke the token before it expires), ``jti``,
``iat``, ``exp``, ``typ`` (always ``access``: a token minted for something else is
refused) and ``act`` (true when a platform admin acts for tenant ``tid``).

Decoding pins the algorithm list to HS256, so ``alg: none`` and algorithm-confusion
tokens are refused before any claim is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from headwater.errors import TokenExpired, TokenInvalid
from headwater.security._opaque import derive_key, new_id

ALGORITHM = "HS256"
TOKEN_TYPE = "access"
_REQUIRED = ("sub", "sid", "jti", "iat", "exp", "typ", "roles", "tier")
#: Verified tokens remembered at most (about 1 KiB each).
_MAX_VERIFIED = 10_000


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    tenant_id: str | None
    roles: tuple[str, ...]
    tier: str
    session_id: str
    token_id: str
    issued_at: int
    expires_at: int
    acting_as_admin: bool
    raw: Mapping[str, Any]


class AccessTokens:
    def __init__(self, root_secret: str, *, lifetime_seconds: int, leeway_seconds: int) -> None:
        self._key = derive_key(root_secret, "jwt-access")
        self.lifetime_seconds = lifetime_seconds
        self._leeway = leeway_seconds
        # Tokens whose signature and claims checked out, by their exact text: a client
        # sends the same token with every request until it expires, and verifying it
        # (base64, JSON, HMAC) was about an eighth of a cached GET. Only the expiry
        # still changes with time, so it is checked on every use. Revocation is not
        # decided here (the authenticator checks the session on every request).
        self._verified: dict[str, AccessClaims] = {}

    def issue(
        self,
        *,
        subject: str,
        tenant_id: str | None,
        roles: Iterable[str],
        tier: str,
        session_id: str,
        acting_as_admin: bool = False,
        now: float | None = None,
    ) -> tuple[str, AccessClaims]:
        issued = int(time.time() if now is None else now)
        payload: dict[str, Any] = {
            "sub": subject,
            "tid": tenant_id,
            "roles": sorted(roles),
            "tier": tier,
            "sid": session_id,
            "jti": new_id(),
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
            "typ": TOKEN_TYPE,
        }
        if acting_as_admin:
            payload["act"] = True
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM)
        return token, _claims(payload)

    def decode(self, token: str) -> AccessClaims:
        known = self._verified.get(token)
        if known is not None:
            if time.time() >= known.expires_at + self._leeway:
                self._verified.pop(token, None)
                raise TokenExpired("the access token has expired: refresh it")
            return known
        claims = self._verify(token)
        if len(self._verified) >= _MAX_VERIFIED:
            self._verified.clear()  # bounded; refilled by the next requests
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": list(_REQUIRED)},
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("the access token has expired: refresh it") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenInvalid("the access token's signature is not valid") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise TokenInvalid("the access token must be signed with HS256") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenInvalid(f"the access token is not valid: {exc}") from exc
        if payload.get("typ") != TOKEN_TYPE:
            raise TokenInvalid("this is not an access token")
        return _claims(payload)


def _claims(payload: Mapping[str, Any]) -> AccessClaims:
    roles, tenant = payload["roles"], payload.get("tid")
    if (
        not isinstance(roles, list)
        or not all(isinstance(r, str) for r in roles)
        or not (tenant is None or isinstance(tenant, str))
        or not all(isinstance(payload[k], str) for k in ("sub", "sid", "jti", "tier"))
    ):
        raise TokenInvalid("the access token's claims are malformed")
    return AccessClaims(
        subject=payload["sub"],
        tenant_id=tenant,
        roles=tuple(roles),
        tier=payload["tier"],
        session_id=payload["sid"],
        token_id=payload["jti"],
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
        acting_as_admin=payload.get("act") is True,
        raw=dict(payload),
    )
