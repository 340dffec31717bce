"""The privacy routes: tenant admins erase and audit their own tenant only, pages signed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.admin._module import AdminModule
from headwater.app import create_app
from headwater.domain import Repository
from headwater.http._security import SecurityModule
from headwater.privacy._module import PrivacyModule
from headwater.privacy._routes import AUDIT_CSV_ROUTE, AUDIT_ROUTE, ERASE_ROUTE
from headwater.runtime import Runtime
from tests.privacy.model import Person, PersonId
from tests.security.support import (
    Tenant,
    app_settings,
    create_tenant,
    root_headers,
    security_config,
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, PrivacyModule]]:
    settings = app_settings(f"sqlite:///{tmp_path / 'node.db'}", tmp_path)
    privacy = PrivacyModule()
    app = create_app(
        settings,
        plugins=[SecurityModule(security_config()), AdminModule([privacy], interval=3600)],
        apps=[privacy],
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, privacy


def _register(client: TestClient, privacy: PrivacyModule, tenant: Tenant, name: str) -> Person:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    repo = Repository(runtime.store, cipher=privacy.cipher)
    person = Person.blank(PersonId.new())
    person.register(name, f"{name.lower()}@example.org")
    person.rename(f"{name} Jr")

    async def save() -> None:
        await repo.save(person, tenant_id=tenant.id, metadata={"actor": tenant.admin_id})

    client.portal.call(save)  # type: ignore[union-attr]
    return person


def test_a_tenant_admin_pages_their_own_audit_trail_with_signed_cursors(
    served: tuple[TestClient, PrivacyModule],
) -> None:
    client, privacy = served
    root = root_headers(client)
    alpha, beta = create_tenant(client, root, "Alpha"), create_tenant(client, root, "Beta")
    _register(client, privacy, alpha, "Ada")
    _register(client, privacy, beta, "Bob")
    headers = alpha.admin(client)

    first = client.get(AUDIT_ROUTE, params={"limit": 1, "actor": alpha.admin_id}, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["data"][0]["data"]["name"] == "Ada"
    cursor = body["pagination"]["cursor"]
    second = client.get(
        AUDIT_ROUTE, params={"limit": 1, "actor": alpha.admin_id, "cursor": cursor}, headers=headers
    )
    assert second.json()["data"][0]["data"]["name"] == "Ada Jr"
    everything = client.get(AUDIT_ROUTE, params={"limit": 500}, headers=headers).json()["data"]
    assert "Bob" not in str(everything)

    # A cursor under other filters, or from the other tenant, is a 400, never a page.
    other = client.get(AUDIT_ROUTE, params={"cursor": cursor}, headers=headers)
    foreign = client.get(
        AUDIT_ROUTE,
        params={"limit": 1, "actor": alpha.admin_id, "cursor": cursor},
        headers=beta.admin(client),
    )
    assert (other.status_code, foreign.status_code) == (400, 400)
    assert client.get(AUDIT_ROUTE, params={"limit": 0}, headers=headers).status_code == 422


def test_only_tenant_admins_read_the_trail_or_erase(
    served: tuple[TestClient, PrivacyModule],
) -> None:
    client, _ = served
    alpha = create_tenant(client, root_headers(client), "Alpha")

    assert client.get(AUDIT_ROUTE).status_code == 401
    assert client.get(AUDIT_ROUTE, headers=alpha.staff(client)).status_code == 403
    erase = client.post(ERASE_ROUTE, json={"subject": "x"}, headers=alpha.staff(client))
    assert erase.status_code == 403


def test_erasing_over_http_replaces_the_person_in_the_trail_and_its_export(
    served: tuple[TestClient, PrivacyModule],
) -> None:
    client, privacy = served
    root = root_headers(client)
    alpha, beta = create_tenant(client, root, "Alpha"), create_tenant(client, root, "Beta")
    ada = _register(client, privacy, alpha, "Ada")
    _register(client, privacy, beta, "Bob")
    headers = alpha.admin(client)

    erased = client.post(ERASE_ROUTE, json={"subject": ada.stream_id}, headers=headers)
    again = client.post(ERASE_ROUTE, json={"subject": ada.stream_id}, headers=headers)
    bad = client.post(ERASE_ROUTE, json={"subject": ""}, headers=headers)
    unknown_field = client.post(ERASE_ROUTE, json={"subject": "x", "tenant": "b"}, headers=headers)

    assert erased.status_code == 200, erased.text
    assert (erased.json()["data"]["erasedNow"], again.json()["data"]["erasedNow"]) == (True, False)
    assert (bad.status_code, unknown_field.status_code) == (422, 422)
    export = client.get(AUDIT_CSV_ROUTE, headers=headers)
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert "Ada" not in export.text
    assert rows[-1]["type"] == "headwater.SubjectErased"
    assert rows[-1]["actor"] == alpha.admin_id
    beta_export = client.get(AUDIT_CSV_ROUTE, headers=beta.admin(client)).text
    assert "Bob Jr" in beta_export


def test_the_audit_panel_is_on_the_admin_dashboard_for_tenant_admins(
    served: tuple[TestClient, PrivacyModule],
) -> None:
    client, _ = served
    alpha = create_tenant(client, root_headers(client), "Alpha")

    overview = client.get("/admin/api/overview", headers=alpha.admin(client))

    assert overview.status_code == 200, overview.text
    panels = {p["id"]: p for p in overview.json()["data"]["panels"]}
    assert panels["audit"]["source"] == AUDIT_ROUTE
