from __future__ import annotations

import pytest

from headwater.errors import Forbidden
from headwater.identity._principal import ANONYMOUS, Principal, Role


def staff(tenant: str | None = "t1") -> Principal:
    return Principal("u1", tenant, frozenset({Role.STAFF}), "access_token")


def test_roles_include_the_rights_of_lower_roles() -> None:
    assert staff().has_role(Role.USER)
    assert staff().has_role(Role.STAFF)
    assert not staff().has_role(Role.TENANT_ADMIN)


def test_require_role_and_tenant_raise_forbidden() -> None:
    with pytest.raises(Forbidden):
        staff().require_role(Role.PLATFORM_ADMIN)
    with pytest.raises(Forbidden):
        staff(None).require_tenant()
    assert staff().require_tenant() == "t1"


def test_anonymous_is_not_authenticated_and_has_no_tenant() -> None:
    assert not ANONYMOUS.is_authenticated
    assert ANONYMOUS.tenant_id is None
    assert ANONYMOUS.tier == "anonymous"


def test_event_metadata_records_the_actor_and_admin_acting_for_a_tenant() -> None:
    admin = Principal(
        "root", "t9", frozenset({Role.PLATFORM_ADMIN}), "access_token", acting_as_admin=True
    )
    assert admin.event_metadata() == {
        "actor": "root",
        "actor_kind": "access_token",
        "tenant_id": "t9",
        "acting_as_admin": True,
    }
