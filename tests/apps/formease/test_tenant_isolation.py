"""Tenant B's credentials on every FormEase route, aimed at tenant A's data: nothing.

The framework's own routes are probed by its tests; here every ``/formease`` route
from the OpenAPI document is, so a route added later is probed too.
"""

from __future__ import annotations

import uuid

from headwater.testing._tenancy import Victim, probe_tenant_isolation
from tests.apps.formease.conftest import World
from tests.apps.formease.support import (
    data,
    error,
    new_user,
    open_form,
    published_form,
    submit,
)


def test_tenant_b_sees_nothing_of_tenant_a_on_any_formease_route(world: World) -> None:
    http, a, b = world.http, world.a, world.b
    marker = uuid.uuid4().hex[:10]
    email = f"victim-{marker}@customer.example"
    user = new_user(http, a, "free", email=email, name=f"Victim {marker}")
    form = published_form(http, a, user)
    opened = open_form(http, a, form)
    submitted = data(submit(http, a, opened["token"], {"name": f"Answer {marker}"}), 201)
    base = data(http.get(f"/formease/users/{user}", headers=a.staff))["version"]
    data(
        http.patch(
            f"/formease/users/{user}",
            json={"based_on_version": base, "plan": "premium"},
            headers=a.staff,
        )
    )
    parked = http.patch(
        f"/formease/users/{user}",
        json={"based_on_version": base, "plan": "enterprise"},
        headers=a.admin,
    )
    review_id = error(parked, 202)["details"]["review_id"]

    document = http.get("/openapi.json").json()
    skip = {
        (method.upper(), path): "a framework route, probed by the framework's tests"
        for path, item in document["paths"].items()
        if not path.startswith("/formease")
        for method in item
    }
    # Its {version} is no tenant's id (every form has a version 1): checked by hand below.
    skip[("GET", "/formease/forms/{form_id}/versions/{version}")] = "probed by hand"
    # Public by design: the link is the credential, whoever holds it (test_public_links).
    for action in ("open", "views", "submissions"):
        skip[("POST", f"/formease/public/{{link}}/{action}")] = "a public link's own route"
    victim = Victim(
        ids={
            "user_id": user,
            "form_id": form,
            "review_id": review_id,
            "submission_id": submitted["submission_id"],
        },
        markers=[email, f"Victim {marker}", f"Answer {marker}", opened["token"]],
    )
    attackers = {
        "B's tenant admin": lambda: b.admin,
        "B's staff": lambda: b.staff,
        "B's respondent": lambda: b.respondent,
        "anonymous": lambda: {},
    }
    for name, attacker in attackers.items():
        report = probe_tenant_isolation(http, attacker=attacker, victim=victim, skip=skip)
        try:
            report.assert_isolated()
        except AssertionError as exc:
            raise AssertionError(f"as {name}: {exc}") from None
        assert len(report.results) >= 20  # every /formease route but the one skipped
    assert http.get(f"/formease/forms/{form}/versions/1", headers=b.staff).status_code == 404
    # B cannot submit on A's session either, and A's review is still open and intact.
    stolen = submit(http, b, opened["token"], {"name": "x"})
    assert stolen.status_code == 400
    assert any(
        r["review_id"] == review_id
        for r in data(http.get("/formease/admin/reviews", headers=a.staff))
    )
    assert data(http.get(f"/formease/users/{user}", headers=a.staff))["plan"] == "premium"
