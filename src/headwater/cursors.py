"""Opaque, signed cursors for keyset pagination.

A cursor names the last row of a page by its sort key and id; the next page is
``WHERE (sort, id) > (cursor.sort, cursor.id)``, which an index answers without
the cost of OFFSET. Cursors are signed and bound to the list they came from, so a
forged, tampered, foreign or expired cursor is a 400, never a 500 or a wrong page.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from headwater.errors import InvalidCursor

__all__ = ["CursorCodec", "InvalidCursor"]

DEFAULT_MAX_AGE_SECONDS = 24 * 3600


class CursorCodec:
    def __init__(self, secret: str, *, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="headwater.cursor")
        self._max_age = max_age

    def encode(self, scope: str, key: list[Any]) -> str:
        """``scope`` names the list (route + filters); ``key`` is the last row's sort key."""
        return self._serializer.dumps({"s": scope, "k": key})

    def decode(self, scope: str, cursor: str) -> list[Any]:
        try:
            payload = self._serializer.loads(cursor, max_age=self._max_age)
        except SignatureExpired as exc:
            raise InvalidCursor("the cursor has expired: start again from the first page") from exc
        except (BadSignature, ValueError, TypeError) as exc:
            raise InvalidCursor("the cursor is not valid") from exc
        if not isinstance(payload, dict) or payload.get("s") != scope:
            raise InvalidCursor("the cursor belongs to another list or other filters")
        key = payload.get("k")
        if not isinstance(key, list):
            raise InvalidCursor("the cursor is not valid")
        return key
