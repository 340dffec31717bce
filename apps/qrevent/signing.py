"""Signed QR payloads: Ed25519, a key id, no personal data, verifiable offline.

A code reads ``QE1.<kid>.<payload>.<signature>`` (base64url, no padding), where the
payload is ``{"e": event id, "i": invitation id}``: ids only, so a photographed
code reveals nobody's name. Scanners verify with the public key from
``GET /api/qr/keys`` and sync the revocation list; the server verifies again.

Private keys are never stored: each organizer's key is derived from the node secret
(HKDF-like HMAC) and the key id, so every node signs alike and a rotation is a new
key id. The key id is a digest of the organizer and the key generation, so it names
no one either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX: Final = "QE1"
#: Bump to rotate every organizer's key; codes signed with older ids stop verifying.
KEY_GENERATION: Final = 1
MAX_CODE_LENGTH: Final = 512


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Verified:
    """A verification outcome: the ids when they could be read, and the refusal if any."""

    event_id: str | None
    invitation_id: str | None
    refusal: str | None


class QrSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def key_id(self, tenant_id: str) -> str:
        digest = hashlib.sha256(f"{tenant_id}:{KEY_GENERATION}".encode()).hexdigest()[:16]
        return f"k{KEY_GENERATION}-{digest}"

    def _private(self, tenant_id: str) -> Ed25519PrivateKey:
        seed = hmac.new(self._secret, f"qrevent-qr:{self.key_id(tenant_id)}".encode(), "sha256")
        return Ed25519PrivateKey.from_private_bytes(seed.digest())

    def public_key(self, tenant_id: str) -> Ed25519PublicKey:
        return self._private(tenant_id).public_key()

    def public_key_b64(self, tenant_id: str) -> str:
        raw = self.public_key(tenant_id).public_bytes(Encoding.Raw, PublicFormat.Raw)
        return _b64(raw)

    def sign(self, tenant_id: str, event_id: str, invitation_id: str) -> str:
        kid = self.key_id(tenant_id)
        payload = _b64(orjson.dumps({"e": event_id, "i": invitation_id}))
        signed = f"{PREFIX}.{kid}.{payload}".encode()
        signature = _b64(self._private(tenant_id).sign(signed))
        return f"{PREFIX}.{kid}.{payload}.{signature}"

    def verify(self, tenant_id: str, code: str) -> Verified:
        """Never raises: a bad code is a refusal with its reason, for the audit trail."""
        code = bare(code)
        parts = code.split(".") if len(code) <= MAX_CODE_LENGTH else []
        if len(parts) != 4 or parts[0] != PREFIX:
            return Verified(None, None, "malformed")
        _, kid, payload, signature = parts
        try:
            data = orjson.loads(_unb64(payload))
            raw_signature = _unb64(signature)
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            return Verified(None, None, "malformed")
        if not (
            isinstance(data, dict)
            and isinstance(data.get("e"), str)
            and isinstance(data.get("i"), str)
        ):
            return Verified(None, None, "malformed")
        event_id, invitation_id = data["e"], data["i"]
        if kid != self.key_id(tenant_id):
            # Another organizer's code, or a retired key generation.
            return Verified(event_id, invitation_id, "unknown_key")
        try:
            self.public_key(tenant_id).verify(raw_signature, f"{PREFIX}.{kid}.{payload}".encode())
        except InvalidSignature:
            return Verified(event_id, invitation_id, "bad_signature")
        return Verified(event_id, invitation_id, None)


def bare(code: str) -> str:
    """The code itself, whether given bare or as the guest-page link a QR code holds."""
    return code.rsplit("#", 1)[-1].strip()


def peek_invitation(code: str) -> str | None:
    """The invitation id a code claims, unverified: only to find whose key checks it."""
    code = bare(code)
    parts = code.split(".") if len(code) <= MAX_CODE_LENGTH else []
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    try:
        data = orjson.loads(_unb64(parts[2]))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    value = data.get("i") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
