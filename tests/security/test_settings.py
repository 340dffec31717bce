"""Tenant settings: events on the tenant's stream, seed 003's ``system.setting`` strategy."""

from __future__ import annotations

import asyncio

import pytest

from headwater.domain import SYSTEM_SETTING, merge_states
from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.security import _events as ev
from headwater.security._service import Security

pytestmark = pytest.mark.anyio

ADMIN = {"actor": "admin-1", "actor_kind": "access_token"}


async def test_settings_default_until_written_then_read_at_once(security: Security) -> None:
    tenant = await security.tenants.create("Acme", metadata={})
    fresh = await security.tenant_settings(tenant.tenant_id)
    assert (fresh.plan, dict(fresh.limits), fresh.features) == ("standard", {}, frozenset())
    assert fresh.limit("formease.free.forms", 3) == 3
    await security.settings.update(
        tenant.tenant_id, plan="premium", limits={"formease.free.forms": 7}, metadata=ADMIN
    )
    read = await security.tenant_settings(tenant.tenant_id)
    assert read.plan == "premium"
    assert read.limit("formease.free.forms", 3) == 7
    assert read.updated_by == "admin-1"


async def test_every_write_is_an_audited_event_naming_what_changed(
    security: Security, store: EventStore
) -> None:
    tenant = await security.tenants.create("Acme", metadata={})
    await security.settings.update(tenant.tenant_id, features=["ai"], metadata=ADMIN)
    await security.settings.update(tenant.tenant_id, limits={"x.y": None}, metadata=ADMIN)
    # A write that changes nothing records nothing.
    await security.settings.update(tenant.tenant_id, features=["ai"], metadata=ADMIN)
    events = [
        e
        async for e in store.read_stream(ev.tenant_stream(tenant.tenant_id))
        if e.type == ev.TENANT_SETTINGS_CHANGED
    ]
    assert [e.data["changed"] for e in events] == [["features"], ["limits.x.y"]]
    assert all(e.metadata["actor"] == "admin-1" for e in events)


async def test_concurrent_writes_merge_key_by_key_and_the_last_wins_a_shared_key(
    security: Security,
) -> None:
    tenant = await security.tenants.create("Acme", metadata={})
    await asyncio.gather(
        *(
            security.settings.update(
                tenant.tenant_id, limits={f"k{n}": n, "shared": n}, metadata=ADMIN
            )
            for n in range(6)
        )
    )
    settings = await security.tenant_settings(tenant.tenant_id)
    # No write lost another's key; the key every write set holds one of their values.
    assert {f"k{n}": n for n in range(6)}.items() <= dict(settings.limits).items()
    assert settings.limits["shared"] in range(6)


async def test_bad_names_and_values_are_refused(security: Security) -> None:
    tenant = await security.tenants.create("Acme", metadata={})
    for bad in ({"Bad Key": 1}, {"ok": -1}, {"ok": True}):
        with pytest.raises(InvalidInput):
            await security.settings.update(tenant.tenant_id, limits=bad, metadata=ADMIN)
    with pytest.raises(InvalidInput):
        await security.settings.update(tenant.tenant_id, features=["No Spaces"], metadata=ADMIN)


def test_the_system_setting_strategy_merges_limits_and_lets_the_last_write_win() -> None:
    base = {"plan": "free", "limits": {"a": 1, "b": 1}, "features": []}
    theirs = {"plan": "premium", "limits": {"a": 2, "b": 1}, "features": ["x"]}
    mine = {"plan": "enterprise", "limits": {"a": 1, "b": 3}, "features": []}
    report = merge_states(base, mine, theirs, SYSTEM_SETTING)
    assert report.clean
    assert report.merged == {
        "plan": "enterprise",
        "limits": {"a": 2, "b": 3},
        "features": ["x"],
    }
    assert [c.dotted for c in report.overwritten] == ["plan"]
