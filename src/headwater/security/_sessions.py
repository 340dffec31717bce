"""Login sessions and their rotating refresh tokens.

A login opens a session (``hw_sessions``). A token session hands out refresh tokens,
one at a time: each use marks the token used and issues its successor (rotation).
A used token presented again means two parties hold the chain, the owner and a thief,
and we cannot tell which is which: the whole session (the token family) is revoked,
and every access token minted under it fails with it (they carry its ``sid``).

Sessions are short-lived state, not events: they are never rebuilt from the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from headwater.errors import RefreshTokenReused, TokenExpired, TokenInvalid, TokenRevoked
from headwater.eventstore import EventStore, Transaction
from headwater.security._opaque import digest, new_id, new_secret, now_us

SessionKind = Literal["token", "cookie"]
REFRESH_PREFIX: Final = "hwr_"
_US: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    session_id: str
    account_id: str
    refresh_token: str
    refresh_expires_at: int


class Sessions:
    def __init__(
        self,
        store: EventStore,
        *,
        refresh_seconds: int,
        session_max_seconds: int,
        cookie_seconds: int,
    ) -> None:
        self.store = store
        self.refresh_us = refresh_seconds * _US
        self.session_max_us = session_max_seconds * _US
        self.cookie_us = cookie_seconds * _US

    async def open_token_session(self, account_id: str) -> RefreshGrant:
        session_id, now = new_id(), now_us()
        expires = now + self.session_max_us
        token, token_expires = _new_token(), min(now + self.refresh_us, expires)
        async with self.store.transaction() as tx:
            await tx.execute(
                "INSERT INTO hw_sessions (session_id, account_id, kind, created_at, expires_at) "
                "VALUES (?, ?, 'token', ?, ?)",
                (session_id, account_id, now, expires),
            )
            await tx.execute(
                "INSERT INTO hw_refresh_tokens (token_digest, session_id, expires_at) "
                "VALUES (?, ?, ?)",
                (digest(token), session_id, token_expires),
            )
        return RefreshGrant(session_id, account_id, token, token_expires)

    async def open_cookie_session(self, account_id: str) -> str:
        session_id, now = new_id(), now_us()
        async with self.store.transaction() as tx:
            await tx.execute(
                "INSERT INTO hw_sessions (session_id, account_id, kind, created_at, expires_at) "
                "VALUES (?, ?, 'cookie', ?, ?)",
                (session_id, account_id, now, now + self.cookie_us),
            )
        return session_id

    async def rotate(self, refresh_token: str) -> RefreshGrant:
        """Spend ``refresh_token`` and return its successor, or raise (see module doc)."""
        spent, now = digest(refresh_token), now_us()
        outcome, session_id, account_id, successor, successor_expires = "unknown", "", "", "", 0
        async with self.store.transaction() as tx:
            row = await tx.fetchone(
                "SELECT t.session_id, t.expires_at, t.used_at, s.account_id, s.revoked_at, "
                "s.expires_at FROM hw_refresh_tokens t "
                "JOIN hw_sessions s ON s.session_id = t.session_id WHERE t.token_digest = ?",
                (spent,),
            )
            if row is not None:
                session_id, token_expires, used_at, account_id, revoked_at, session_expires = row
                if revoked_at is not None:
                    outcome = "revoked"
                elif used_at is not None:
                    outcome = "reused"
                elif token_expires <= now or session_expires <= now:
                    outcome = "expired"
                else:
                    # The guard on used_at makes spending atomic: of two concurrent uses
                    # (PostgreSQL re-checks the WHERE after the row lock), one updates a
                    # row, the other none and is treated as a reuse.
                    changed = await tx.execute(
                        "UPDATE hw_refresh_tokens SET used_at = ? "
                        "WHERE token_digest = ? AND used_at IS NULL",
                        (now, spent),
                    )
                    outcome = "rotated" if changed == 1 else "reused"
                if outcome == "reused":
                    # Committed before we raise: raising inside would roll it back.
                    await _revoke(tx, session_id, now, "refresh_token_reused")
                if outcome == "rotated":
                    successor = _new_token()
                    successor_expires = min(now + self.refresh_us, int(session_expires))
                    await tx.execute(
                        "INSERT INTO hw_refresh_tokens (token_digest, session_id, expires_at) "
                        "VALUES (?, ?, ?)",
                        (digest(successor), session_id, successor_expires),
                    )
        if outcome == "unknown":
            raise TokenInvalid("the refresh token is not valid")
        if outcome == "revoked":
            raise TokenRevoked("the refresh token's session was revoked: sign in again")
        if outcome == "expired":
            raise TokenExpired("the refresh token has expired: sign in again")
        if outcome == "reused":
            raise RefreshTokenReused()
        return RefreshGrant(session_id, account_id, successor, successor_expires)

    async def session_of(self, refresh_token: str) -> tuple[str, str] | None:
        """(session id, account id) of a refresh token, used or not."""
        async with self.store.transaction() as tx:
            row = await tx.fetchone(
                "SELECT s.session_id, s.account_id FROM hw_refresh_tokens t "
                "JOIN hw_sessions s ON s.session_id = t.session_id WHERE t.token_digest = ?",
                (digest(refresh_token),),
            )
        return None if row is None else (row[0], row[1])

    async def revoke(self, session_id: str, reason: str) -> None:
        async with self.store.transaction() as tx:
            await _revoke(tx, session_id, now_us(), reason)

    async def purge_expired(self) -> int:
        """Delete sessions and refresh tokens past their end (housekeeping, any node)."""
        now = now_us()
        async with self.store.transaction() as tx:
            tokens = await tx.execute("DELETE FROM hw_refresh_tokens WHERE expires_at <= ?", (now,))
            sessions = await tx.execute("DELETE FROM hw_sessions WHERE expires_at <= ?", (now,))
        return tokens + sessions


async def _revoke(tx: Transaction, session_id: str, now: int, reason: str) -> None:
    await tx.execute(
        "UPDATE hw_sessions SET revoked_at = ?, revoked_reason = ? "
        "WHERE session_id = ? AND revoked_at IS NULL",
        (now, reason, session_id),
    )


def _new_token() -> str:
    return REFRESH_PREFIX + new_secret()
