from __future__ import annotations

from tests.apps.formease.conftest import World
from tests.apps.formease.support import data, new_user, open_form, published_form, submit


def test_a_submission_is_recorded_against_its_version(world: World) -> None:
    http, a = world.http, world.a
    user = new_user(http, a)
    form = published_form(http, a, user)
    opened = open_form(http, a, form)
    sent = data(submit(http, a, opened["token"], {"name": "Ada", "age": 36}), 201)
    assert sent["version"] == 1
