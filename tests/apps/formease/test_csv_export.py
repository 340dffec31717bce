"""The CSV export a spreadsheet opens: a column per field of the pinned versions, the
csv module's quoting, formula injection neutralised; and edit and publish answering
the form's numbers alike."""

from __future__ import annotations

import csv
import io

from apps.formease.exports import cell, field_columns, neutralised
from tests.apps.formease.conftest import World
from tests.apps.formease.support import TEXT, data, new_user, open_form, published_form, submit

NOTE = {"type": "text", "label": "Note", "order": 3}
TAGS = {"type": "multichoice", "label": "Tags", "order": 4, "options": ["a", "b"]}


def test_a_cell_that_starts_a_formula_is_text() -> None:
    for text in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralised(text) == "'" + text
    assert neutralised("plain = text") == "plain = text"
    # Numbers answered as numbers stay numbers; lists are joined then checked.
    assert cell(-3) == -3
    assert cell(True) == "true"
    assert cell(["=a", "b"]) == "'=a; b"
    assert cell(None) == ""


def test_columns_follow_the_field_order_newest_version_first() -> None:
    v2 = {"b": {**TEXT, "order": 2}, "a": {**TEXT, "order": 1}}
    v1 = {"a": TEXT, "old": {**TEXT, "order": 9}}
    assert field_columns([v2, v1]) == ["a", "b", "old"]


def test_the_export_has_one_column_per_field_and_quotes_and_neutralises(world: World) -> None:
    http, a = world.http, world.a
    form = published_form(http, a, new_user(http, a, "premium"), {"name": TEXT, "note": NOTE})
    tricky = 'a, "quoted"\nsecond line'
    first = open_form(http, a, form)
    data(submit(http, a, first["token"], {"name": '=HYPERLINK("x")', "note": tricky}), 201)
    patch = {"set_fields": {"tags": TAGS}, "remove_fields": ["note"]}
    data(http.patch(f"/formease/forms/{form}", json=patch, headers=a.staff))
    data(http.post(f"/formease/forms/{form}/publish", headers=a.staff))
    second = open_form(http, a, form)
    data(submit(http, a, second["token"], {"name": "Bo", "tags": ["a", "b"]}), 201)

    answer = http.get("/formease/submissions/export.csv", params={"form_id": form}, headers=a.staff)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    assert list(table[0]) == [
        "submission_id",
        "form_id",
        "version",
        "submitted_at",
        "completion_seconds",
        "name",
        "tags",
        "note",
    ]
    one, two = table
    assert (one["version"], two["version"]) == ("1", "2")
    assert one["name"] == '\'=HYPERLINK("x")'
    assert one["note"] == tricky  # commas, quotes and a newline survive the round trip
    assert one["tags"] == ""  # version 1 had no such field
    assert (two["name"], two["tags"], two["note"]) == ("Bo", "a; b", "")
    assert float(one["completion_seconds"]) >= 0


def test_edit_get_and_publish_answer_the_same_two_numbers(world: World) -> None:
    http, a = world.http, world.a
    form = published_form(http, a, new_user(http, a, "premium"))
    patch = {"set_fields": {"note": NOTE}}
    edited = data(http.patch(f"/formease/forms/{form}", json=patch, headers=a.staff))
    got = data(http.get(f"/formease/forms/{form}", headers=a.staff))
    assert (edited["version"], edited["published"]) == (got["version"], got["published"])
    assert edited["published"] == 1  # the edit made a draft, not a version
    published = data(http.post(f"/formease/forms/{form}/publish", headers=a.staff))
    after = data(http.get(f"/formease/forms/{form}", headers=a.staff))
    assert published["published"] == after["published"] == 2
    assert published["version"] == after["version"] > edited["version"]
    # The revision is what a later edit names as its base.
    rename = {"based_on_version": published["version"], "title": "Renamed"}
    renamed = data(http.patch(f"/formease/forms/{form}", json=rename, headers=a.staff))
    assert renamed["published"] == 2
