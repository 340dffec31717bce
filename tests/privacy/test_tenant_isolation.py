"""Tenant safety as a property: erasures in one tenant never change another tenant's reads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.domain import Repository
from headwater.privacy import Eraser
from tests.privacy.model import Person, PersonId

pytestmark = pytest.mark.anyio

TENANTS = ("a", "b", "c")
SUBJECTS = ("s1", "s2", "s3")

# A step: ("write", tenant, subject, text) notes ``text`` about ``subject`` in the tenant's
# holder stream; ("erase", tenant, subject) erases that subject in that tenant only.
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("write"),
            st.sampled_from(TENANTS),
            st.sampled_from(SUBJECTS),
            st.text(alphabet="xyz", min_size=1, max_size=4),
        ),
        st.tuples(st.just("erase"), st.sampled_from(TENANTS), st.sampled_from(SUBJECTS)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=steps)
async def test_interleaved_writes_and_erasures_never_change_another_tenants_reads(
    repo: Repository, eraser: Eraser, plan: list[tuple[Any, ...]]
) -> None:
    # Fresh tenant and subject names per example: the store outlives the examples.
    run = uuid.uuid4().hex[:8]
    holders: dict[str, Person] = {}
    for tenant in TENANTS:
        holder = Person.blank(PersonId.new())
        holder.register(f"holder-{tenant}", None)
        await repo.save(holder, tenant_id=f"{run}-{tenant}")
        holders[tenant] = holder
    # The model: per tenant, the notes as a reader should see them right now.
    expected: dict[str, list[tuple[str, str]]] = {t: [] for t in TENANTS}
    erased: set[tuple[str, str]] = set()

    for step in plan:
        tenant, subject = step[1], step[2]
        if step[0] == "write":
            holder = await repo.load(Person, holders[tenant].id, tenant_id=f"{run}-{tenant}")
            holder.note(about=f"{run}-{subject}", text=step[3])
            await repo.save(holder, tenant_id=f"{run}-{tenant}")
            expected[tenant].append((subject, step[3]))
        else:
            await eraser.erase_subject(f"{run}-{tenant}", f"{run}-{subject}")
            erased.add((tenant, subject))

        for reader in TENANTS:
            loaded = await repo.load(Person, holders[reader].id, tenant_id=f"{run}-{reader}")
            want = ["" if (reader, s) in erased else text for s, text in expected[reader]]
            assert loaded.notes == want, f"tenant {reader} after {step}"
