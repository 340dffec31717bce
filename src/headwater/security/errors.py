"""The security errors, each with its own stable code.

They subclass the tree in ``headwater.errors`` so the HTTP layer maps them without
knowing them (``Unauthorized`` is 401 with ``WWW-Authenticate``, ``Forbidden`` 403,
``ConcurrencyError``-like conflicts 409)::

    Unauthorized
    ├── InvalidCredentials      login failed; never says whether the email exists
    ├── TokenInvalid            forged, malformed, wrong type or algorithm
    ├── TokenExpired
    ├── TokenRevoked            logged out, signed out everywhere, account disabled
    ├── RefreshTokenReused      a rotated refresh token came back: its family is revoked
    └── ApiKeyInvalid           unknown, wrong secret or revoked
    Forbidden
    └── CsrfFailed              a cookie-authenticated unsafe request without its token
    HeadwaterError
    └── EmailTaken (409)
"""

from __future__ import annotations

from headwater.errors import Forbidden, HeadwaterError, Unauthorized


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"

    def __init__(self) -> None:
        # One message for every cause (unknown email, wrong password, disabled):
        # anything more precise lets a caller enumerate accounts.
        super().__init__("the email or password is not correct")


class TokenInvalid(Unauthorized):
    code = "token_invalid"


class TokenExpired(Unauthorized):
    code = "token_expired"


class TokenRevoked(Unauthorized):
    code = "token_revoked"


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"

    def __init__(self) -> None:
        super().__init__(
            "this refresh token was already used; its whole session is now revoked (sign in again)"
        )


class ApiKeyInvalid(Unauthorized):
    code = "api_key_invalid"

    def __init__(self) -> None:
        super().__init__("the API key is not valid (unknown, wrong secret or revoked)")


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class EmailTaken(HeadwaterError):
    code = "email_taken"
    http_status = 409

    def __init__(self) -> None:
        super().__init__("an account with this email already exists")
