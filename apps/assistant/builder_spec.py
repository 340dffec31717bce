"""What the AI Builder accepts: an app's name, its entities with typed fields, and commands.

Every name becomes code (a package, a class, an attribute, a SQL column, a URL), so
each is checked here, field by field, before a job is queued: a bad name answers 422
with its location (``["body", "entities", 0, "fields", 2, "name"]``), never a build
that fails later. Sizes are bounded so one build stays a few dozen small files.
"""

from __future__ import annotations

import keyword
import re
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from headwater import Aggregate, Command, Event

MAX_ENTITIES: Final = 8
MAX_FIELDS: Final = 16
MAX_COMMANDS: Final = 8
MAX_NAME: Final = 40
#: App and entity names together make a stream prefix, which holds 40 characters.
MAX_APP: Final = 20
MAX_ENTITY: Final = 20

#: snake_case: app names (a Python package) and field names (attributes, columns).
_SNAKE: Final = re.compile(r"^[a-z][a-z0-9_]*$")
#: PascalCase: entities (aggregate classes) and commands (command classes).
_PASCAL: Final = re.compile(r"^[A-Z][A-Za-z0-9]*$")
#: Names the generated code or the framework already uses for something else.
_RESERVED_APPS: Final = frozenset({"headwater", "apps", "tests", "test", "app", "examples"})
_RESERVED_FIELDS: Final = frozenset(
    {"id", "tenant_id", "type", "self", "body", "staff", "runtime", "user"}
    | {n for base in (Aggregate, Command, Event) for n in dir(base)}
)
#: Names the generated modules import or define: an entity's classes may not shadow them.
_TAKEN_CLASSES: Final = frozenset(
    [
        "Aggregate",
        "AggregateId",
        "Any",
        "APIRouter",
        "App",
        "AppRuntime",
        "BaseModel",
        "Command",
        "CommandBus",
        "CommandContext",
        "Envelope",
        "Event",
        "EventStore",
        "Field",
        "InlineHandler",
        "InvalidInput",
        "Module",
        "NotFound",
        "Principal",
        "Projection",
        "RecordedEvent",
        "Repository",
        "Runtime",
        "Service",
        "SignedInUser",
        "Staff",
        "Statement",
        "Table",
        "Tenant",
        "World",
    ]
)
#: A command becomes a method of its aggregate: it may not replace one of the base's.
_AGGREGATE_METHODS: Final = frozenset(dir(Aggregate))
#: Field names become unquoted SQL columns: SQL's reserved words are refused.
_SQL_WORDS: Final = frozenset(
    [
        "all",
        "and",
        "any",
        "as",
        "asc",
        "between",
        "by",
        "case",
        "check",
        "column",
        "create",
        "current_date",
        "current_time",
        "current_user",
        "default",
        "delete",
        "desc",
        "distinct",
        "drop",
        "else",
        "end",
        "false",
        "from",
        "group",
        "having",
        "in",
        "index",
        "insert",
        "is",
        "join",
        "key",
        "like",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "or",
        "order",
        "primary",
        "references",
        "select",
        "session_user",
        "table",
        "then",
        "to",
        "true",
        "union",
        "unique",
        "update",
        "user",
        "values",
        "when",
        "where",
    ]
)

FieldType = Literal["str", "int", "float", "bool"]


def _identifier(value: str, pattern: re.Pattern[str], shape: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"{value!r} is not a {shape} identifier")
    if keyword.iskeyword(value) or keyword.iskeyword(value.lower()):
        raise ValueError(f"{value!r} is a Python keyword")
    return value


def snake(name: str) -> str:
    """``OrderLine`` -> ``order_line``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    type: FieldType

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _identifier(value, _SNAKE, "snake_case")
        if value in _RESERVED_FIELDS or value.endswith("_id") or value in _SQL_WORDS:
            raise ValueError(f"{value!r} is reserved (ids, tenant and SQL words are generated)")
        return value


class CommandSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    #: The fields this command changes; it takes one new value for each.
    sets: list[str] = Field(min_length=1, max_length=MAX_FIELDS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _identifier(value, _PASCAL, "PascalCase")
        if value == "Create":
            raise ValueError("'Create' is generated for every entity")
        if snake(value) in _AGGREGATE_METHODS:
            raise ValueError(f"{value!r} would replace the aggregate's own {snake(value)}()")
        return value


class EntitySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_ENTITY)
    fields: list[FieldSpec] = Field(min_length=1, max_length=MAX_FIELDS)
    commands: list[CommandSpec] = Field(default_factory=list, max_length=MAX_COMMANDS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, _PASCAL, "PascalCase")

    @model_validator(mode="after")
    def _consistent(self) -> EntitySpec:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: field names must be unique")
        commands = [c.name for c in self.commands]
        if len(set(commands)) != len(commands):
            raise ValueError(f"{self.name}: command names must be unique")
        # A command is a method of the aggregate whose fields are attributes.
        both = sorted({snake(c) for c in commands} & set(names))
        if both:
            raise ValueError(f"{self.name}: commands and fields share the names {both}")
        for command in self.commands:
            unknown = sorted(set(command.sets) - set(names))
            if unknown:
                raise ValueError(f"{self.name}.{command.name} sets unknown fields {unknown}")
            if len(set(command.sets)) != len(command.sets):
                raise ValueError(f"{self.name}.{command.name} sets a field twice")
        return self


class AppSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str = Field(min_length=1, max_length=MAX_APP)
    description: str = Field(default="", max_length=500)
    entities: list[EntitySpec] = Field(min_length=1, max_length=MAX_ENTITIES)

    @field_validator("app")
    @classmethod
    def _app(cls, value: str) -> str:
        _identifier(value, _SNAKE, "snake_case")
        if value in _RESERVED_APPS:
            raise ValueError(f"{value!r} is taken (a package the app would shadow)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> AppSpec:
        names = [snake(e.name) for e in self.entities]
        if len(set(names)) != len(names):
            raise ValueError("entity names must be unique")
        # Each entity makes a handful of classes; two entities' may not clash.
        classes = [name for e in self.entities for name in class_names(e)]
        clashes = sorted({n for n in classes if classes.count(n) > 1 or n in _TAKEN_CLASSES})
        if clashes:
            raise ValueError(f"these generated class names clash: {clashes}")
        return self


def class_names(entity: EntitySpec) -> list[str]:
    """The classes the generator writes for one entity (see ``builder_render``)."""
    e = entity.name
    names = [e, f"{e}Id", f"{e}Created", f"Create{e}", f"New{e}"]
    for command in entity.commands:
        c = command.name
        names += [f"{e}{c}", f"{e}{c}Recorded", f"{e}{c}Body"]
    return names
