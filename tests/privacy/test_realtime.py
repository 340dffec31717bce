"""Realtime clients are told: SubjectErased rides the log to the tenant's channel, and pushed
frames of sealed events carry replacement values, never the personal ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from headwater.domain import Repository, default_registry
from headwater.eventstore import EventStore, create_event_store
from headwater.privacy import Eraser, PersonalDataCipher, SubjectErased, SubjectKeys
from headwater.realtime import Channel
from headwater.testing._realtime import TOKENS
from tests.privacy.model import Person, PersonId
from tests.realtime.test_hub import Recorder, settle, started

pytestmark = pytest.mark.anyio


@pytest.fixture
async def memory_store() -> AsyncIterator[EventStore]:
    async with await create_event_store("sqlite:///:memory:") as opened:
        yield opened


async def test_subject_erased_reaches_the_tenants_clients_only(memory_store: EventStore) -> None:
    keys = SubjectKeys(memory_store)
    await keys.migrate()
    repo = Repository(memory_store, cipher=PersonalDataCipher(default_registry, keys))
    hub = await started(memory_store)
    try:
        acme = Recorder(TOKENS["alice-token"])
        globex = Recorder(TOKENS["eve-token"])
        hub.subscribe(acme, [Channel("tenant")], from_position=None)
        hub.subscribe(globex, [Channel("tenant")], from_position=None)
        person = Person.blank(PersonId.new())
        person.register("Ada Secretname", "ada@example.org")
        await repo.save(person, tenant_id="acme")

        await Eraser(memory_store, keys).erase_subject("acme", person.stream_id)
        await settle(hub, memory_store)

        events = [m for m in acme.messages if m["type"] == "event"]
        assert [e["event"]["type"] for e in events][-1] == SubjectErased.event_type
        assert "Secretname" not in str(acme.messages)
        assert globex.positions() == []
    finally:
        await hub.stop()
