"""Is this session, account or API key still valid? Answered from the tables, cached briefly.

Access tokens are checked against their session and account on every request, so a
logout, "sign out everywhere", a disabled account, a revoked key or a role change
takes effect before the token expires. Asking the database each time would put it on
every request's path; instead each node keeps the answer for
``revocation_cache_seconds`` (5 s by default). Freshness, stated: a revocation made
on this node applies at once (the node forgets its cached answer); on other nodes
within that many seconds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from headwater.eventstore import EventStore
from headwater.security._accounts import AccountRecord, account_columns
from headwater.security._apikeys import ApiKeyRecord, ApiKeys
from headwater.security._opaque import now_us
from headwater.security._schema import fetch_one

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A bounded map whose entries expire.

    Two requests that miss at once both load: a duplicate query is cheaper than the
    cancellation subtleties of sharing one load between tasks.
    """

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        value = await load()
        if self.ttl > 0:
            if len(self._entries) >= self.max_entries:
                self._evict()
            self._entries[key] = (self._clock() + self.ttl, value)
        return value

    def forget(self, predicate: Callable[[K], bool]) -> None:
        for key in [k for k in self._entries if predicate(k)]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def _evict(self) -> None:
        now = self._clock()
        expired = [k for k, (deadline, _) in self._entries.items() if deadline <= now]
        for key in expired or list(self._entries)[: self.max_entries // 10 or 1]:
            del self._entries[key]


@dataclass(frozen=True, slots=True)
class SessionState:
    account: AccountRecord
    active: bool


class CredentialStates:
    def __init__(self, store: EventStore, api_keys: ApiKeys, *, ttl: float) -> None:
        self.store = store
        self.api_keys = api_keys
        self._sessions: TtlCache[tuple[str, str], SessionState | None] = TtlCache(ttl)
        self._keys: TtlCache[str, ApiKeyRecord | None] = TtlCache(ttl)

    async def session(self, account_id: str, session_id: str) -> SessionState | None:
        """The account behind a session and whether the session is live; None if unknown."""
        return await self._sessions.get(
            (account_id, session_id), lambda: self._load_session(account_id, session_id)
        )

    async def api_key(self, key_id: str) -> ApiKeyRecord | None:
        return await self._keys.get(key_id, lambda: self.api_keys.get(key_id))

    def forget_account(self, account_id: str) -> None:
        self._sessions.forget(lambda key: key[0] == account_id)

    def forget_session(self, session_id: str) -> None:
        self._sessions.forget(lambda key: key[1] == session_id)

    def forget_api_key(self, key_id: str) -> None:
        self._keys.forget(lambda key: key == key_id)

    async def _load_session(self, account_id: str, session_id: str) -> SessionState | None:
        # One statement (one transaction): on SQLite every transaction is a turn of
        # the single writer, so the uncached path stays as short as it can be.
        row = await fetch_one(
            self.store,
            f"SELECT {account_columns('a')}, s.revoked_at, s.expires_at FROM hw_accounts a "
            "LEFT JOIN hw_sessions s ON s.session_id = ? AND s.account_id = a.account_id "
            "WHERE a.account_id = ?",
            (session_id, account_id),
        )
        if row is None:
            return None
        account = AccountRecord.from_row(row)
        revoked_at, expires_at = row[-2], row[-1]
        live = expires_at is not None and revoked_at is None and int(expires_at) > now_us()
        return SessionState(account, live and not account.disabled)
