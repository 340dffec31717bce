"""Who is calling, and what they may do: principals, credentials, permissions.

::

    from headwater.security import SecurityConfig
    from headwater.http._security import SecurityModule  # its routes and middleware

    app = create_app(settings, plugins=[SecurityModule(SecurityConfig(cors_origins=(...,)))])

Routes use the dependencies in ``headwater.http._deps``; the realtime hub uses
``runtime.authenticator`` and ``runtime.channels``, which the security module sets.
"""

from headwater.errors import (
    ApiKeyInvalid,
    CsrfFailed,
    EmailTaken,
    InvalidCredentials,
    RefreshTokenReused,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)
from headwater.identity._channels import ChannelRegistry
from headwater.identity._principal import ANONYMOUS, Authenticator, Principal, Role
from headwater.security._config import FAST_PASSWORDS, PasswordPolicy, SecurityConfig
from headwater.security._opaque import equal_text
from headwater.security._service import Security
from headwater.security._settings import TenantSettings

__all__ = [
    "ANONYMOUS",
    "FAST_PASSWORDS",
    "ApiKeyInvalid",
    "Authenticator",
    "ChannelRegistry",
    "CsrfFailed",
    "EmailTaken",
    "InvalidCredentials",
    "PasswordPolicy",
    "Principal",
    "RefreshTokenReused",
    "Role",
    "Security",
    "SecurityConfig",
    "TenantSettings",
    "TokenExpired",
    "TokenInvalid",
    "TokenRevoked",
    "equal_text",
]
