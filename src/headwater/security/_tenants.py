"""Tenants (organisations): created by a platform admin, each in its own ``tenant-{id}`` stream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from headwater.cursors import ListQuery, Sorts, Total, count_rows
from headwater.errors import InvalidInput, NotFound
from headwater.eventstore import NO_STREAM, EventStore
from headwater.security import _events as ev
from headwater.security._opaque import new_id
from headwater.security._schema import fetch_all, fetch_one

_COLUMNS: Final = "tenant_id, name, created_at"

#: Each sort has an index: created_at (hw_tenants_by_created), name (hw_tenants_by_name).
TENANT_SORTS: Final = Sorts(
    {"created_at": "created_at", "name": "name"}, default="created_at", tiebreak="tenant_id"
)


@dataclass(frozen=True, slots=True)
class TenantRecord:
    tenant_id: str
    name: str
    created_at: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> TenantRecord:
        return cls(tenant_id=row[0], name=row[1], created_at=int(row[2]))


class Tenants:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def create(self, name: str, *, metadata: Mapping[str, object]) -> TenantRecord:
        name = name.strip()
        if not name:
            raise InvalidInput("a tenant needs a name", field="name")
        tenant_id = new_id()
        await self.store.append(
            ev.tenant_stream(tenant_id),
            ev.event(ev.TENANT_CREATED, {"tenant_id": tenant_id, "name": name}, metadata),
            expected_version=NO_STREAM,
            tenant_id=tenant_id,
        )
        return await self.get(tenant_id)

    async def get(self, tenant_id: str) -> TenantRecord:
        row = await fetch_one(
            self.store, f"SELECT {_COLUMNS} FROM hw_tenants WHERE tenant_id = ?", (tenant_id,)
        )
        if row is None:
            raise NotFound("no such tenant", tenant_id=tenant_id)
        return TenantRecord.from_row(row)

    async def list(
        self, query: ListQuery, *, after: Sequence[Any] | None, limit: int
    ) -> list[TenantRecord]:
        """Keyset page in ``query``'s order; ``after`` is the last row's sort key."""
        sql = f"SELECT {_COLUMNS} FROM hw_tenants"
        params: list[Any] = []
        clause = query.after(after)
        if clause is not None:
            sql += f" WHERE {clause[0]}"
            params += clause[1]
        sql += f" ORDER BY {query.order_by()} LIMIT ?"
        rows = await fetch_all(self.store, sql, [*params, limit])
        return [TenantRecord.from_row(row) for row in rows]

    async def count(self) -> Total:
        return await count_rows(self.store, "FROM hw_tenants", [])
