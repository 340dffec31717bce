"""The AI Builder's specification, checked at every bound before a job is queued."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from apps.assistant.builder_spec import (
    MAX_APP,
    MAX_COMMANDS,
    MAX_ENTITIES,
    MAX_ENTITY,
    MAX_FIELDS,
    AppSpec,
)


def entity(name: str = "Product", fields: int = 1, commands: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "fields": [{"name": f"f{n}", "type": "int"} for n in range(fields)],
        "commands": [{"name": f"Change{n}", "sets": ["f0"]} for n in range(commands)],
    }


def spec(**overrides: Any) -> dict[str, Any]:
    return {"app": "shop", "entities": [entity()], **overrides}


def refused(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as raised:
        AppSpec.model_validate(body)
    return [error["loc"] for error in raised.value.errors()]


def test_a_minimal_spec_is_accepted() -> None:
    assert AppSpec.model_validate(spec()).app == "shop"


def test_app_name_length_at_the_bound() -> None:
    AppSpec.model_validate(spec(app="a" * MAX_APP))
    assert refused(spec(app="a" * (MAX_APP + 1))) == [("app",)]


def test_entity_name_length_at_the_bound() -> None:
    AppSpec.model_validate(spec(entities=[entity("E" + "x" * (MAX_ENTITY - 1))]))
    assert refused(spec(entities=[entity("E" + "x" * MAX_ENTITY)])) == [("entities", 0, "name")]


def test_entity_count_at_the_bound() -> None:
    many = [entity(f"E{n}") for n in range(MAX_ENTITIES)]
    AppSpec.model_validate(spec(entities=many))
    assert refused(spec(entities=[*many, entity("Extra")])) == [("entities",)]
    assert refused(spec(entities=[])) == [("entities",)]


def test_field_count_at_the_bound() -> None:
    AppSpec.model_validate(spec(entities=[entity(fields=MAX_FIELDS)]))
    assert refused(spec(entities=[entity(fields=MAX_FIELDS + 1)])) == [("entities", 0, "fields")]
    assert refused(spec(entities=[entity(fields=0)])) == [("entities", 0, "fields")]


def test_command_count_at_the_bound() -> None:
    AppSpec.model_validate(spec(entities=[entity(commands=MAX_COMMANDS)]))
    loc = ("entities", 0, "commands")
    assert refused(spec(entities=[entity(commands=MAX_COMMANDS + 1)])) == [loc]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (spec(app="My-Shop"), ("app",)),
        (spec(app="class"), ("app",)),
        (spec(app="headwater"), ("app",)),
        (spec(entities=[{**entity(), "name": "product"}]), ("entities", 0, "name")),
        (spec(entities=[{**entity(), "name": "Not Valid"}]), ("entities", 0, "name")),
        (
            spec(entities=[{"name": "P", "fields": [{"name": "2x", "type": "int"}]}]),
            ("entities", 0, "fields", 0, "name"),
        ),
        (
            spec(entities=[{"name": "P", "fields": [{"name": "order", "type": "int"}]}]),
            ("entities", 0, "fields", 0, "name"),
        ),
        (
            spec(entities=[{"name": "P", "fields": [{"name": "owner_id", "type": "str"}]}]),
            ("entities", 0, "fields", 0, "name"),
        ),
        (
            spec(entities=[{"name": "P", "fields": [{"name": "n", "type": "decimal"}]}]),
            ("entities", 0, "fields", 0, "type"),
        ),
        (
            spec(entities=[{**entity(), "commands": [{"name": "Create", "sets": ["f0"]}]}]),
            ("entities", 0, "commands", 0, "name"),
        ),
        (
            spec(entities=[{**entity(), "commands": [{"name": "Record", "sets": ["f0"]}]}]),
            ("entities", 0, "commands", 0, "name"),
        ),
        (
            spec(entities=[{**entity(), "commands": [{"name": "Set", "sets": ["nope"]}]}]),
            ("entities", 0),
        ),
        (spec(entities=[entity("Product"), entity("Product")]), ()),
        (spec(entities=[entity("Event")]), ()),
        (
            spec(entities=[{**entity(), "commands": [{"name": "F0", "sets": ["f0"]}]}]),
            ("entities", 0),
        ),
        (spec(extra=1), ("extra",)),
    ],
)
def test_bad_names_and_shapes_are_refused_where_they_are(
    body: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert refused(body) == [loc]
