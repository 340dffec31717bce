"""Demo data for FormEase: users, forms with versions, submissions over past days.

``seed`` writes the same events the commands write, straight to the store in large
batches (the demo and the benchmark need a million submissions in reasonable time;
the plan limits are the commands' business, so seeded users are on the unlimited
plan). Read models fill through the inline projections, which must be attached to
the store first (``attach_inline(store, PROJECTIONS)``; the module does it).

    python -m apps.formease.demo sqlite:///var/formease.db TENANT_ID --submissions 5000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.formease.domain.fields import FieldType
from apps.formease.domain.forms import FormDraftStarted, FormFieldSet, FormId, FormPublished
from apps.formease.domain.sessions import SubmissionReceived, UsageId
from apps.formease.domain.users import FormCreated, FormUserId, Plan, UserRegistered, UserRole
from apps.formease.projections import PROJECTIONS
from headwater.domain import Event, default_registry
from headwater.eventstore import EventStore, NewEvent, create_event_store
from headwater.projections import attach_inline

#: Appends in flight at once while seeding: enough for the store's group commit to fill.
CONCURRENCY = 64
PLANS = (Plan.FREE, Plan.FREE, Plan.PREMIUM, Plan.ENTERPRISE)
FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": FieldType.TEXT, "label": "Name", "order": 1, "required": True},
    "email": {"type": FieldType.EMAIL, "label": "Email", "order": 2},
    "score": {"type": FieldType.RATING, "label": "Score", "order": 3},
}


@dataclass(frozen=True)
class Seeded:
    users: list[str]
    forms: list[tuple[str, str]]  # (form id, owner id)
    submissions: int


def _encode(event: Event) -> NewEvent:
    return default_registry.encode(event, metadata={"seeded": True})


def _users(
    rng: random.Random, count: int, now: datetime, days: int
) -> Iterator[tuple[str, list[NewEvent], datetime]]:
    for n in range(count):
        user_id = str(uuid.UUID(int=rng.getrandbits(128)))
        at = now - timedelta(days=rng.uniform(0, days), seconds=n)
        event = UserRegistered(
            email=f"user{n}@demo.formease.example",
            name=f"Demo user {n}",
            plan=PLANS[n % len(PLANS)],
            role=UserRole.OWNER,
            at=at,
        )
        yield user_id, [_encode(event)], at


async def seed(
    store: EventStore,
    tenant_id: str,
    *,
    users: int = 50,
    forms_per_user: int = 2,
    submissions: int = 5_000,
    days: int = 90,
    seed_value: int = 7,
    batch: int = 500,
    now: datetime | None = None,
) -> Seeded:
    rng = random.Random(seed_value)
    now = now or datetime.now(UTC)
    user_ids: list[str] = []
    forms: list[tuple[str, str, datetime]] = []
    writes: list[tuple[str, list[NewEvent]]] = []
    for user_id, events, joined in _users(rng, users, now, days):
        user_ids.append(user_id)
        for f in range(forms_per_user):
            form_id = str(uuid.UUID(int=rng.getrandbits(128)))
            at = joined + (now - joined) * rng.random() * 0.2
            events.append(_encode(FormCreated(form_id=form_id, title=f"Form {f}", at=at)))
            forms.append((form_id, user_id, at))
        writes.append((FormUserId(user_id).stream_id, events))
    for form_id, owner, at in forms:
        fields = {k: {**v, "type": str(v["type"])} for k, v in FIELDS.items()}
        events = [_encode(FormDraftStarted(owner_id=owner, title="Demo form", at=at))]
        events += [_encode(FormFieldSet(key=k, spec=v)) for k, v in fields.items()]
        events.append(_encode(FormPublished(version=1, title="Demo form", fields=fields, at=at)))
        writes.append((FormId(form_id).stream_id, events))
    await _write(store, tenant_id, writes)

    by_usage: dict[str, list[NewEvent]] = {}
    for n in range(submissions):
        form_id, owner, created = forms[rng.randrange(len(forms))]
        at = created + (now - created) * rng.random()
        session = uuid.UUID(int=rng.getrandbits(128)).hex
        event = SubmissionReceived(
            submission_id=str(uuid.UUID(int=rng.getrandbits(128))),
            form_id=form_id,
            owner_id=owner,
            version=1,
            session_id=session,
            answers={
                "name": f"Respondent {n}",
                "email": f"r{n}@example.org",
                "score": rng.randint(1, 5),
            },
            completion_ms=int(rng.lognormvariate(10.5, 0.6)),
            at=at,
        )
        by_usage.setdefault(UsageId.of(owner, at).stream_id, []).append(_encode(event))
    chunks = [
        (stream, events[start : start + batch])
        for stream, events in by_usage.items()
        for start in range(0, len(events), batch)
    ]
    await _write(store, tenant_id, chunks)
    return Seeded(user_ids, [(f, o) for f, o, _ in forms], submissions)


async def _write(
    store: EventStore, tenant_id: str, writes: list[tuple[str, list[NewEvent]]]
) -> None:
    # A few appends in flight at once: the store's group commit shares their fsyncs.
    # Streams of one user are appended in order (a chunk list keeps each stream's order).
    pending: dict[str, list[list[NewEvent]]] = {}
    for stream, events in writes:
        pending.setdefault(stream, []).append(events)

    async def one_stream(stream: str, parts: list[list[NewEvent]]) -> None:
        for part in parts:
            await store.append(stream, part, tenant_id=tenant_id)

    items = list(pending.items())
    for start in range(0, len(items), CONCURRENCY):
        part = items[start : start + CONCURRENCY]
        await asyncio.gather(*(one_stream(s, p) for s, p in part))


async def _main(url: str, tenant_id: str, submissions: int, users: int) -> None:
    async with await create_event_store(url, migrate=True) as store:
        await attach_inline(store, PROJECTIONS)
        seeded = await seed(store, tenant_id, users=users, submissions=submissions)
        print(
            f"seeded {len(seeded.users)} users, {len(seeded.forms)} forms, "
            f"{seeded.submissions} submissions for tenant {tenant_id}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("tenant_id")
    parser.add_argument("--submissions", type=int, default=5_000)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(_main(args.database_url, args.tenant_id, args.submissions, args.users))


if __name__ == "__main__":
    main()
