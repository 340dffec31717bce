"""API keys for devices (door scanners...): one tenant, one role, shown once, stored hashed.

A key reads ``hwk_<key id>.<secret>``. The prefix lets secret scanners spot leaked
keys; the id finds the row without a scan; only the secret's digest is stored.
Keys live in ``apikey-{id}`` streams under their tenant; ``hw_api_keys`` is the
inline-projected lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from headwater.cursors import ListQuery, Sorts, Total, count_rows
from headwater.errors import InvalidInput, NotFound
from headwater.eventstore import NO_STREAM, EventStore
from headwater.identity._principal import Role, Tier
from headwater.security import _events as ev
from headwater.security._accounts import parse_tier
from headwater.security._lookup import API_KEY_ROLES
from headwater.security._opaque import digest, new_id, new_secret
from headwater.security._schema import fetch_all, fetch_one

PREFIX: Final = "hwk_"
_COLUMNS: Final = (
    "key_id, tenant_id, name, role, tier, secret_digest, created_by, created_at, revoked_at"
)

#: Each sort has an index after tenant_id: hw_api_keys_by_tenant (created_at),
#: hw_api_keys_by_tenant_name (name).
API_KEY_SORTS: Final = Sorts(
    {"created_at": "created_at", "name": "name"}, default="created_at", tiebreak="key_id"
)


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    tenant_id: str
    name: str
    role: Role
    tier: Tier
    secret_digest: str = field(repr=False)
    created_by: str
    created_at: int
    revoked_at: int | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ApiKeyRecord:
        return cls(
            key_id=row[0],
            tenant_id=row[1],
            name=row[2],
            role=Role(row[3]),
            tier=parse_tier(row[4]),
            secret_digest=row[5],
            created_by=row[6],
            created_at=int(row[7]),
            revoked_at=None if row[8] is None else int(row[8]),
        )


def split_key(presented: str) -> tuple[str, str] | None:
    """``hwk_<id>.<secret>`` -> (key id, secret), or None when it has another shape."""
    key_id, dot, secret = presented.strip().partition(".")
    if not dot or not key_id.startswith(PREFIX) or not secret or len(presented) > 200:
        return None
    return key_id, secret


class ApiKeys:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def create(
        self,
        *,
        tenant_id: str,
        name: str,
        role: Role,
        tier: Tier,
        created_by: str,
        metadata: Mapping[str, object],
    ) -> tuple[ApiKeyRecord, str]:
        """The new key's record and the full key, which is never shown again."""
        if role.value not in API_KEY_ROLES:
            raise InvalidInput(f"an API key may have the role staff or user, not {role}")
        if not name.strip():
            raise InvalidInput("an API key needs a name", field="name")
        key_id, secret = PREFIX + new_id(), new_secret()
        data = {
            "key_id": key_id,
            "tenant_id": tenant_id,
            "name": name.strip(),
            "role": role.value,
            "tier": tier,
            "secret_digest": digest(secret),
            "created_by": created_by,
        }
        await self.store.append(
            ev.api_key_stream(key_id),
            ev.event(ev.API_KEY_CREATED, data, metadata),
            expected_version=NO_STREAM,
            tenant_id=tenant_id,
        )
        return await self.get_in_tenant(key_id, tenant_id), f"{key_id}.{secret}"

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        """Unscoped, for authentication."""
        row = await fetch_one(
            self.store, f"SELECT {_COLUMNS} FROM hw_api_keys WHERE key_id = ?", (key_id,)
        )
        return None if row is None else ApiKeyRecord.from_row(row)

    async def get_in_tenant(self, key_id: str, tenant_id: str) -> ApiKeyRecord:
        row = await fetch_one(
            self.store,
            f"SELECT {_COLUMNS} FROM hw_api_keys WHERE key_id = ? AND tenant_id = ?",
            (key_id, tenant_id),
        )
        if row is None:
            raise NotFound("no such API key", key_id=key_id)
        return ApiKeyRecord.from_row(row)

    async def list_in_tenant(
        self, tenant_id: str, query: ListQuery, *, after: Sequence[Any] | None, limit: int
    ) -> list[ApiKeyRecord]:
        """Keyset page in ``query``'s order; ``after`` is the last row's sort key."""
        sql = f"SELECT {_COLUMNS} FROM hw_api_keys WHERE tenant_id = ?"
        params: list[Any] = [tenant_id]
        clause = query.after(after)
        if clause is not None:
            sql += f" AND {clause[0]}"
            params += clause[1]
        sql += f" ORDER BY {query.order_by()} LIMIT ?"
        rows = await fetch_all(self.store, sql, [*params, limit])
        return [ApiKeyRecord.from_row(row) for row in rows]

    async def count_in_tenant(self, tenant_id: str) -> Total:
        return await count_rows(self.store, "FROM hw_api_keys WHERE tenant_id = ?", [tenant_id])

    async def revoke(
        self, key_id: str, tenant_id: str, *, metadata: Mapping[str, object]
    ) -> ApiKeyRecord:
        """Idempotent: revoking a revoked key changes nothing."""
        record = await self.get_in_tenant(key_id, tenant_id)
        if record.revoked_at is None:
            await self.store.append(
                ev.api_key_stream(key_id),
                ev.event(ev.API_KEY_REVOKED, {}, metadata),
                tenant_id=tenant_id,
            )
        return await self.get_in_tenant(key_id, tenant_id)
