"""'Delete my data': a signed-in person erases their own subject and closes their account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.admin._module import AdminModule
from headwater.app import create_app
from headwater.domain import Repository
from headwater.http._security import SecurityModule
from headwater.privacy._module import PrivacyModule
from headwater.privacy._routes import AUDIT_CSV_ROUTE, AUDIT_ROUTE, ERASE_ME_ROUTE
from headwater.runtime import Runtime
from tests.privacy.model import Person, PersonId
from tests.security.support import (
    Tenant,
    app_settings,
    create_tenant,
    login,
    root_headers,
    security_config,
)

CANARY = "Zq7-canary-delete-me"


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, PrivacyModule]]:
    if store_url == "sqlite:///:memory:":
        pytest.skip("a served node needs a file or a server")
    privacy = PrivacyModule()
    app = create_app(
        app_settings(store_url, tmp_path),
        plugins=[SecurityModule(security_config()), AdminModule([privacy], interval=3600)],
        apps=[privacy],
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, privacy


def _note_about(
    client: TestClient, privacy: PrivacyModule, tenant: Tenant, subject: str, text: str
) -> PersonId:
    """A record in someone's stream whose personal field belongs to ``subject``."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    repo = Repository(runtime.store, cipher=privacy.cipher)
    keeper = Person.blank(PersonId.new())
    keeper.register("Keeper", None)
    keeper.note(subject, text)

    async def save() -> None:
        await repo.save(keeper, tenant_id=tenant.id, metadata={"actor": tenant.admin_id})

    client.portal.call(save)  # type: ignore[union-attr]
    return keeper.id


def _notes(client: TestClient, privacy: PrivacyModule, tenant: Tenant, pid: PersonId) -> list[str]:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    repo = Repository(runtime.store, cipher=privacy.cipher)

    async def load() -> list[str]:
        return list((await repo.load(Person, pid, tenant_id=tenant.id)).notes)

    return client.portal.call(load)  # type: ignore[union-attr, no-any-return]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_a_person_erases_their_own_data_and_their_account_closes(
    served: tuple[TestClient, PrivacyModule], method: str
) -> None:
    client, privacy = served
    root = root_headers(client)
    alpha, beta = create_tenant(client, root, "Alpha"), create_tenant(client, root, "Beta")
    mine = _note_about(client, privacy, alpha, alpha.user_id, f"{CANARY} {alpha.user_email}")
    theirs = _note_about(client, privacy, alpha, alpha.staff_id, "the staff member's note")
    other_tenant = _note_about(client, privacy, beta, alpha.user_id, "same id, other tenant")
    admin = alpha.admin(client)
    assert CANARY in client.get(AUDIT_CSV_ROUTE, headers=admin).text
    me = alpha.user(client)

    path = ERASE_ME_ROUTE if method == "POST" else "/me"
    answer = client.request(method, path, headers=me)

    assert answer.status_code == 200, answer.text
    body = answer.json()["data"]
    assert body["subject"] == alpha.user_id
    assert body["erasedNow"] is True
    assert body["accountDisabled"] is True
    assert "erased" in body["message"]
    assert _notes(client, privacy, alpha, mine) == [""]  # the declared replacement
    assert _notes(client, privacy, alpha, theirs) == ["the staff member's note"]
    assert _notes(client, privacy, beta, other_tenant) == ["same id, other tenant"]
    assert CANARY not in client.get(AUDIT_CSV_ROUTE, headers=admin).text
    trail = client.get(
        AUDIT_ROUTE, params={"type": "headwater.SubjectErased"}, headers=admin
    ).json()["data"]
    assert [(e["actor"], e["data"]["subject"]) for e in trail] == [(alpha.user_id, alpha.user_id)]
    # The account is closed: the old token and a new sign-in are both refused.
    assert client.get("/auth/me", headers=me).status_code == 401
    with pytest.raises(AssertionError):
        login(client, alpha.user_email)


def test_delete_my_data_needs_a_signed_in_person(
    served: tuple[TestClient, PrivacyModule],
) -> None:
    client, _ = served
    assert client.post(ERASE_ME_ROUTE).status_code == 401
    assert client.delete("/me").status_code == 401
