"""A small app for the backup tests: deposits into accounts, and two read models.

``ledger`` is async, ``ledger_by_tenant`` inline, so restores and drills cover both
modes. Keys include non-ASCII text, whose sort order differs between the backends'
collations: read-model checksums must not depend on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.eventstore import EventStore, NewEvent
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections import INTEGER, REAL, TEXT, TIMESTAMP, Merge, Projection, Table

ACCOUNTS = Table(
    "bk_accounts",
    {
        "account": TEXT,
        "balance": INTEGER,
        "entries": INTEGER,
        "weight": REAL,
        "last_note": TEXT,
        "last_at": TIMESTAMP,
    },
    primary_key="account",
)
TENANTS = Table("bk_tenants", {"tenant": TEXT, "deposits": INTEGER}, primary_key="tenant")

ledger = Projection("bk_ledger", tables=[ACCOUNTS])
ledger_by_tenant = Projection("bk_ledger_by_tenant", tables=[TENANTS], mode="inline")


@ledger.on("deposit")
def _deposit(event: RecordedEvent) -> Statement:
    return ACCOUNTS.upsert(
        {
            "account": event.stream_id,
            "balance": event.data["amount"],
            "entries": 1,
            "weight": event.data["amount"] / 7,
            "last_note": event.data["note"],
            "last_at": event.recorded_at,
        },
        merge={"balance": Merge.ADD, "entries": Merge.ADD, "weight": Merge.ADD},
    )


@ledger_by_tenant.on("deposit")
def _tenant(event: RecordedEvent) -> Statement:
    return TENANTS.upsert(
        {"tenant": event.tenant_id or "-", "deposits": 1}, merge={"deposits": Merge.ADD}
    )


PROJECTIONS: Sequence[Projection] = (ledger, ledger_by_tenant)
NOTES = ("café", "Zebra", "apple", "Ärger", "ß", "naïve", "日本")


def deposit(i: int) -> tuple[str, NewEvent, str]:
    """The i-th deposit of a steady writer: (stream, event, tenant)."""
    note = NOTES[i % len(NOTES)]
    account = i % 13
    # A stream belongs to one tenant for good: the tenant follows from the account.
    stream = f"acct-{account}-{NOTES[account % len(NOTES)]}"
    return stream, NewEvent("deposit", {"amount": i % 97, "note": note}), f"tenant-{account % 3}"


async def write_deposits(store: EventStore, start: int, count: int) -> list[int]:
    positions = []
    for i in range(start, start + count):
        stream, event, tenant = deposit(i)
        result = await store.append(stream, event, tenant_id=tenant)
        positions.append(result.last_position)
    return positions
