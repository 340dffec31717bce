"""Opaque credentials (refresh tokens, API-key secrets) and per-purpose keys.

Opaque secrets are 256 random bits, so a plain SHA-256 digest is enough to store
them: unlike a password there is nothing to guess, and a fast digest keeps the
per-request check cheap. Only the digest is stored; the secret is shown once.

Every signing use of the runtime secret gets its own derived key, so a value signed
for one purpose (a session cookie) can never be replayed as another (a JWT).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid


def new_secret() -> str:
    """256 random bits, URL-safe (alphabet ``A-Z a-z 0-9 - _``: never a ``.``)."""
    return secrets.token_urlsafe(32)


def new_id() -> str:
    return uuid.uuid4().hex


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return equal_text(digest(secret), stored_digest)


def equal_text(a: str, b: str) -> bool:
    """Constant-time equality of any two strings.

    ``hmac.compare_digest`` raises TypeError for a str with non-ASCII characters, so a
    client sending one in a header would get a 500; comparing the UTF-8 bytes instead
    just says "not equal".
    """
    return hmac.compare_digest(a.encode(), b.encode())


def derive_key(root_secret: str, purpose: str) -> bytes:
    return hmac.new(root_secret.encode(), f"headwater:{purpose}".encode(), "sha256").digest()


def now_us() -> int:
    """Wall-clock microseconds: how the security tables store every instant."""
    return time.time_ns() // 1000
