"""Accounts in several tenants, with a role in each (seed 004 ``switchTenant``, ``getTenantUsers``).

An account has one home tenant (``hw_accounts.tenant_id``) and may be a member of
others: ``hw.account.membership_granted`` / ``_revoked`` on the account's own
stream, projected inline into ``hw_memberships``. A member acts in another tenant
only with an access token issued for it (``Security.switch_tenant``), and the
authenticator checks the membership on every request, so revoking it ends that
access at once, with the roles the membership holds there, never the home ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from headwater.cursors import ListQuery, Sorts, Total, count_rows
from headwater.errors import InvalidInput, NotFound
from headwater.eventstore import EventStore
from headwater.identity._principal import Role
from headwater.security import _events as ev
from headwater.security._accounts import AccountRecord
from headwater.security._schema import fetch_all, fetch_one

#: A tenant's users: its own accounts and its members, by joining or by email.
TENANT_USER_SORTS: Final = Sorts(
    {"created_at": "created_at", "email": "email"}, default="created_at", tiebreak="account_id"
)

# Both halves are index ranges (hw_accounts_by_tenant, hw_memberships_by_tenant);
# the union is sorted after, which a tenant's user count keeps cheap.
_USERS: Final = (
    "FROM (SELECT account_id, email, display_name, roles, created_at, 'home' AS kind "
    "FROM hw_accounts WHERE tenant_id = ? "
    "UNION ALL SELECT a.account_id, a.email, a.display_name, m.roles, m.created_at, "
    "'member' AS kind FROM hw_memberships m JOIN hw_accounts a ON a.account_id = m.account_id "
    "WHERE m.tenant_id = ?) tenant_users"
)


@dataclass(frozen=True, slots=True)
class TenantUser:
    account_id: str
    email: str
    display_name: str | None
    roles: frozenset[Role]
    #: When the account joined the tenant (microseconds since the epoch).
    created_at: int
    #: ``home`` for the tenant's own accounts, ``member`` for accounts of other tenants.
    kind: str


class Memberships:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def roles_in(self, account_id: str, tenant_id: str) -> frozenset[Role] | None:
        """The account's roles in ``tenant_id`` as a member, or None when it is not one."""
        row = await fetch_one(
            self.store,
            "SELECT roles FROM hw_memberships WHERE account_id = ? AND tenant_id = ?",
            (account_id, tenant_id),
        )
        return None if row is None else frozenset(Role(r) for r in row[0].split(","))

    async def of_account(self, account_id: str) -> list[tuple[str, frozenset[Role]]]:
        rows = await fetch_all(
            self.store,
            "SELECT tenant_id, roles FROM hw_memberships WHERE account_id = ? ORDER BY tenant_id",
            (account_id,),
        )
        return [(t, frozenset(Role(r) for r in roles.split(","))) for t, roles in rows]

    async def grant(
        self,
        account: AccountRecord,
        tenant_id: str,
        roles: Iterable[Role],
        *,
        metadata: Mapping[str, object],
    ) -> None:
        """Make ``account`` a member of ``tenant_id`` with ``roles`` (or change its roles)."""
        if account.tenant_id is None:
            raise InvalidInput("a platform admin acts for tenants; it is nobody's member")
        if account.tenant_id == tenant_id:
            raise InvalidInput("the account already belongs to this tenant", field="tenant_id")
        await self.store.append(
            ev.account_stream(account.account_id),
            ev.event(
                ev.MEMBERSHIP_GRANTED,
                {"tenant_id": tenant_id, "roles": ev.role_names(roles)},
                metadata,
            ),
            expected_version=account.version,
            tenant_id=account.tenant_id,
        )

    async def revoke(
        self, account: AccountRecord, tenant_id: str, *, metadata: Mapping[str, object]
    ) -> None:
        if await self.roles_in(account.account_id, tenant_id) is None:
            raise NotFound("no such member of this tenant", account_id=account.account_id)
        await self.store.append(
            ev.account_stream(account.account_id),
            ev.event(ev.MEMBERSHIP_REVOKED, {"tenant_id": tenant_id}, metadata),
            expected_version=account.version,
            tenant_id=account.tenant_id,
        )

    async def users(
        self, tenant_id: str, query: ListQuery, *, after: Sequence[Any] | None, limit: int
    ) -> list[TenantUser]:
        """Keyset page of the tenant's accounts and members in ``query``'s order."""
        sql = f"SELECT account_id, email, display_name, roles, created_at, kind {_USERS}"
        params: list[Any] = [tenant_id, tenant_id]
        clause = query.after(after)
        if clause is not None:
            sql += f" WHERE {clause[0]}"
            params += clause[1]
        sql += f" ORDER BY {query.order_by()} LIMIT ?"
        rows = await fetch_all(self.store, sql, [*params, limit])
        return [
            TenantUser(
                account_id=r[0],
                email=r[1],
                display_name=r[2],
                roles=frozenset(Role(x) for x in r[3].split(",")),
                created_at=int(r[4]),
                kind=r[5],
            )
            for r in rows
        ]

    async def count_users(self, tenant_id: str) -> Total:
        return await count_rows(self.store, _USERS, [tenant_id, tenant_id])
