"""The principal of the work in progress, set per request and restored after."""

from __future__ import annotations

import asyncio

import pytest

from headwater.errors import Forbidden
from headwater.identity._context import acting_as, current_principal, current_tenant, require_tenant
from headwater.identity._principal import ANONYMOUS, Principal, Role

STAFF = Principal(
    subject="acc-1", tenant_id="A", roles=frozenset({Role.STAFF}), credential="access_token"
)


def test_outside_any_request_it_is_anonymous() -> None:
    assert current_principal() is ANONYMOUS
    assert current_tenant() is None
    with pytest.raises(Forbidden):
        require_tenant()


def test_acting_as_sets_and_restores_even_on_error() -> None:
    def fail_inside() -> None:
        with acting_as(STAFF):
            assert require_tenant() == "A"
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_inside()
    assert current_principal() is ANONYMOUS


@pytest.mark.anyio
async def test_concurrent_tasks_keep_their_own_principal() -> None:
    other = Principal(
        subject="acc-2", tenant_id="B", roles=frozenset({Role.STAFF}), credential="access_token"
    )

    async def work(principal: Principal) -> str | None:
        with acting_as(principal):
            await asyncio.sleep(0.01)
            return current_tenant()

    assert list(await asyncio.gather(work(STAFF), work(other))) == ["A", "B"]
