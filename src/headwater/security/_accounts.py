"""Accounts: event-sourced in ``account-{id}`` streams, read from ``hw_accounts``.

``hw_accounts`` is kept by the inline projection in the same transaction as each
event, so the row is exactly the stream's state: commands check their rules against
it and append with ``expected_version=row.version`` (optimistic concurrency).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, get_args

from headwater.cursors import ListQuery, Sorts, Total, count_rows
from headwater.errors import (
    ConcurrencyError,
    EmailTaken,
    InlineHandlerFailed,
    InvalidInput,
    NotFound,
)
from headwater.eventstore import NO_STREAM, EventStore, NewEvent
from headwater.identity._principal import Role, Tier
from headwater.security import _events as ev
from headwater.security._lookup import credentials
from headwater.security._opaque import new_id
from headwater.security._passwords import Passwords
from headwater.security._schema import fetch_all, fetch_one

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELDS: Final = (
    "account_id",
    "email",
    "tenant_id",
    "display_name",
    "password_hash",
    "roles",
    "tier",
    "disabled",
    "tokens_revoked_at",
    "created_at",
    "version",
)
_COLUMNS: Final = ", ".join(_FIELDS)

#: Each sort has an index after tenant_id: hw_accounts_by_tenant (created_at),
#: hw_accounts_by_tenant_email (email, unique, so its own tiebreak in practice).
ACCOUNT_SORTS: Final = Sorts(
    {"created_at": "created_at", "email": "email"}, default="created_at", tiebreak="account_id"
)


def account_columns(alias: str) -> str:
    """The columns ``AccountRecord.from_row`` reads, qualified for a join."""
    return ", ".join(f"{alias}.{name}" for name in _FIELDS)


Metadata = Mapping[str, object]


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if len(normalized) > 254 or not _EMAIL.match(normalized):
        raise InvalidInput("this is not an email address", field="email")
    return normalized


def parse_tier(value: str) -> Tier:
    if value not in get_args(Tier):
        raise InvalidInput(f"unknown tier {value!r}")
    tier: Tier = value  # type: ignore[assignment]  # checked just above
    return tier


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: str
    email: str
    tenant_id: str | None
    display_name: str | None
    password_hash: str = field(repr=False)
    roles: frozenset[Role]
    tier: Tier
    disabled: bool
    tokens_revoked_at: int
    created_at: int
    version: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> AccountRecord:
        """From the columns of ``account_columns``, in that order (extra ones ignored)."""
        return cls(
            account_id=row[0],
            email=row[1],
            tenant_id=row[2],
            display_name=row[3],
            password_hash=row[4],
            roles=frozenset(Role(r) for r in row[5].split(",")),
            tier=parse_tier(row[6]),
            disabled=bool(row[7]),
            tokens_revoked_at=int(row[8]),
            created_at=int(row[9]),
            version=int(row[10]),
        )


class Accounts:
    def __init__(self, store: EventStore, passwords: Passwords) -> None:
        self.store = store
        self.passwords = passwords

    # --- reading ------------------------------------------------------------------------

    async def get(self, account_id: str) -> AccountRecord | None:
        """Unscoped: for authentication and the platform. Routes use ``get_in_tenant``."""
        row = await fetch_one(
            self.store, f"SELECT {_COLUMNS} FROM hw_accounts WHERE account_id = ?", (account_id,)
        )
        return None if row is None else AccountRecord.from_row(row)

    async def get_in_tenant(self, account_id: str, tenant_id: str) -> AccountRecord:
        """The account if it belongs to ``tenant_id``; another tenant's reads as missing."""
        row = await fetch_one(
            self.store,
            f"SELECT {_COLUMNS} FROM hw_accounts WHERE account_id = ? AND tenant_id = ?",
            (account_id, tenant_id),
        )
        if row is None:
            raise NotFound("no such account", account_id=account_id)
        return AccountRecord.from_row(row)

    async def find_by_email(self, email: str) -> AccountRecord | None:
        row = await fetch_one(
            self.store,
            f"SELECT {_COLUMNS} FROM hw_accounts WHERE email = ?",
            (email.strip().lower(),),
        )
        return None if row is None else AccountRecord.from_row(row)

    async def list_in_tenant(
        self, tenant_id: str, query: ListQuery, *, after: Sequence[Any] | None, limit: int
    ) -> list[AccountRecord]:
        """Keyset page in ``query``'s order; ``after`` is the last row's sort key."""
        sql = f"SELECT {_COLUMNS} FROM hw_accounts WHERE tenant_id = ?"
        params: list[Any] = [tenant_id]
        clause = query.after(after)
        if clause is not None:
            sql += f" AND {clause[0]}"
            params += clause[1]
        sql += f" ORDER BY {query.order_by()} LIMIT ?"
        rows = await fetch_all(self.store, sql, [*params, limit])
        return [AccountRecord.from_row(row) for row in rows]

    async def count_in_tenant(self, tenant_id: str) -> Total:
        return await count_rows(self.store, "FROM hw_accounts WHERE tenant_id = ?", [tenant_id])

    # --- commands -----------------------------------------------------------------------

    async def register(
        self,
        *,
        email: str,
        password: str,
        tenant_id: str | None,
        roles: Iterable[Role],
        metadata: Metadata,
        tier: Tier = "user",
        display_name: str | None = None,
    ) -> AccountRecord:
        email = normalize_email(email)
        if await self.find_by_email(email) is not None:
            raise EmailTaken()
        account_id = new_id()
        data = {
            "account_id": account_id,
            "email": email,
            "tenant_id": tenant_id,
            "display_name": display_name,
            "roles": ev.role_names(roles),
            "tier": tier,
        }
        registered_event = ev.event(ev.ACCOUNT_REGISTERED, data, metadata)
        password_hash = await self.passwords.hash(password)
        try:
            # The hash goes to the lookup row with the event, never into the log.
            with credentials.handing_over(registered_event.id, password_hash):
                await self.store.append(
                    ev.account_stream(account_id),
                    registered_event,
                    expected_version=NO_STREAM,
                    tenant_id=tenant_id,
                )
        except InlineHandlerFailed as exc:
            # hw_accounts' UNIQUE(email) failed the append inside its transaction: a
            # registration raced ours (the table tells which constraint it was).
            if await self.find_by_email(email) is not None:
                raise EmailTaken() from exc
            raise
        registered = await self.get(account_id)
        if registered is None:  # pragma: no cover - the inline projection wrote it
            raise NotFound("the account vanished after registration")
        return registered

    async def change_password(
        self, account: AccountRecord, password: str, *, sign_out: bool, metadata: Metadata
    ) -> None:
        """``sign_out`` ends every session of the account in the same commit."""
        password_hash = await self.passwords.hash(password)
        changed = ev.event(ev.PASSWORD_CHANGED, {"sign_out": sign_out}, metadata)
        with credentials.handing_over(changed.id, password_hash):
            await self._append_event(account, changed)

    async def rehash(self, account: AccountRecord, password: str) -> None:
        """Re-hash with the current policy after a successful login (parameters rose).

        Best effort: if the account changed meanwhile (say, two logins rehashing at
        once), the next login tries again; the login itself must not fail for it.
        """
        with contextlib.suppress(ConcurrencyError):
            await self.change_password(
                account,
                password,
                sign_out=False,
                metadata={"actor": account.account_id, "actor_kind": "login", "reason": "rehash"},
            )

    async def change_roles(
        self, account: AccountRecord, roles: Iterable[Role], tier: Tier, *, metadata: Metadata
    ) -> None:
        await self._append(
            account, ev.ROLES_CHANGED, {"roles": ev.role_names(roles), "tier": tier}, metadata
        )

    async def disable(self, account: AccountRecord, *, reason: str, metadata: Metadata) -> None:
        await self._append(account, ev.ACCOUNT_DISABLED, {"reason": reason}, metadata)

    async def enable(self, account: AccountRecord, *, metadata: Metadata) -> None:
        await self._append(account, ev.ACCOUNT_ENABLED, {}, metadata)

    async def revoke_tokens(
        self, account: AccountRecord, *, reason: str, metadata: Metadata
    ) -> None:
        """Sign out everywhere: every session (refresh family, cookie) of the account ends."""
        await self._append(account, ev.TOKENS_REVOKED, {"reason": reason}, metadata)

    async def record_acting_for(
        self, account: AccountRecord, tenant_id: str, *, metadata: Metadata
    ) -> None:
        """Audit: a platform admin chose to act for a tenant."""
        await self._append(account, ev.ACTED_FOR_TENANT, {"tenant_id": tenant_id}, metadata)

    async def _append(
        self, account: AccountRecord, type_: str, data: Mapping[str, Any], metadata: Metadata
    ) -> None:
        await self._append_event(account, ev.event(type_, data, metadata))

    async def _append_event(self, account: AccountRecord, event: NewEvent) -> None:
        await self.store.append(
            ev.account_stream(account.account_id),
            event,
            expected_version=account.version,
            tenant_id=account.tenant_id,
        )
