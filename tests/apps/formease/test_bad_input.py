"""Ordinary bad input gets a 4xx, never a 500: the exact cases found from outside."""

from __future__ import annotations

from tests.apps.formease.conftest import World
from tests.apps.formease.support import error, new_user, open_form, published_form


def test_an_answer_with_a_lone_surrogate_is_refused_with_400(world: World) -> None:
    http, a = world.http, world.a
    form = published_form(http, a, new_user(http, a, "premium"))
    token = open_form(http, a, form)["token"]
    # Written by hand: a JSON encoder would refuse to produce the escape.
    body = '{"token": "' + token + '", "answers": {"name": "x\\ud800y"}}'
    refused = http.post(
        "/formease/submissions",
        content=body.encode(),
        headers={**a.respondent, "content-type": "application/json"},
    )
    assert error(refused, 400)["code"] == "invalid_unicode"


def test_versions_beyond_64_bits_are_refused_with_422(world: World) -> None:
    http, a = world.http, world.a
    form = published_form(http, a, new_user(http, a, "premium"))
    huge = "99999999999999999999"
    for path, params in [
        (f"/formease/forms/{form}/versions/{huge}", {}),
        (f"/formease/forms/{form}/dropoff", {"version": str(10**30)}),
        (f"/formease/forms/{form}/diff", {"from": "1", "to": huge}),
    ]:
        answer = http.get(path, params=params, headers=a.staff)
        assert error(answer, 422)["code"] == "validation_failed", path
