"""Typed form fields, their validation rules, and branching (``show_if``).

A published version is a frozen list of these; a submission is checked against the
version it was opened on, so later edits never change what an old answer meant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from headwater.errors import InvalidInput

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class FieldType(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    NUMBER = "number"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    BOOLEAN = "boolean"
    DATE = "date"
    RATING = "rating"


class ShowIf(BaseModel):
    """Branching: the field is shown only when ``field`` was answered ``equals``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str = Field(pattern=KEY_PATTERN)
    equals: str | int | float | bool


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: FieldType
    label: str = Field(min_length=1, max_length=200)
    order: int = Field(default=0, ge=0, le=10_000)
    required: bool = False
    min_length: int | None = Field(default=None, ge=0, le=100_000)
    max_length: int | None = Field(default=None, ge=1, le=100_000)
    pattern: str | None = Field(default=None, max_length=200)
    minimum: float | None = None
    maximum: float | None = None
    options: list[str] = Field(default_factory=list, max_length=100)
    show_if: ShowIf | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.type in (FieldType.CHOICE, FieldType.MULTICHOICE) and not self.options:
            raise ValueError("a choice field needs options")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"bad pattern: {exc}") from None
        return self


def ordered(fields: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, FieldSpec]]:
    specs = [(k, FieldSpec.model_validate(v)) for k, v in fields.items()]
    return sorted(specs, key=lambda item: (item[1].order, item[0]))


def check_branching(fields: Mapping[str, Mapping[str, Any]]) -> None:
    """A ``show_if`` must point at an earlier field: no cycles, no dangling branches."""
    seen: set[str] = set()
    for key, spec in ordered(fields):
        if spec.show_if is not None and spec.show_if.field not in seen:
            raise InvalidInput(
                f"field {key!r} branches on {spec.show_if.field!r}, which is not an earlier field",
                field=key,
            )
        seen.add(key)


def visible_fields(
    fields: Sequence[tuple[str, FieldSpec]], answers: Mapping[str, Any]
) -> list[str]:
    """The fields a respondent giving ``answers`` was shown, in order."""
    shown: list[str] = []
    for key, spec in fields:
        rule = spec.show_if
        if rule is None or (rule.field in shown and answers.get(rule.field) == rule.equals):
            shown.append(key)
    return shown


def validate_answers(
    fields: Mapping[str, Mapping[str, Any]], answers: Mapping[str, Any]
) -> list[str]:
    """Check ``answers`` against one version's fields; return the visible field keys."""
    specs = ordered(fields)
    shown = visible_fields(specs, answers)
    errors: dict[str, str] = {}
    for key in answers:
        if key not in fields:
            errors[key] = "unknown field"
        elif key not in shown:
            errors[key] = "answered a field that was not shown"
    by_key = dict(specs)
    for key in shown:
        problem = _check(by_key[key], answers.get(key))
        if problem:
            errors[key] = problem
    if errors:
        raise InvalidInput("the submission does not fit its form version", fields=errors)
    return shown


def _check(spec: FieldSpec, value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return "required" if spec.required else None
    kind = spec.type
    if kind in (FieldType.TEXT, FieldType.EMAIL):
        if not isinstance(value, str):
            return "expected text"
        if kind is FieldType.EMAIL and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            return "not an email address"
        if spec.min_length is not None and len(value) < spec.min_length:
            return f"shorter than {spec.min_length}"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"longer than {spec.max_length}"
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            return "does not match the pattern"
        return None
    if kind in (FieldType.NUMBER, FieldType.RATING):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "expected a number"
        low = (
            spec.minimum if spec.minimum is not None else (1 if kind is FieldType.RATING else None)
        )
        high = (
            spec.maximum if spec.maximum is not None else (5 if kind is FieldType.RATING else None)
        )
        if (low is not None and value < low) or (high is not None and value > high):
            return f"out of range [{low}, {high}]"
        return None
    if kind is FieldType.CHOICE:
        return None if value in spec.options else "not one of the options"
    if kind is FieldType.MULTICHOICE:
        ok = isinstance(value, list) and all(v in spec.options for v in value)
        return None if ok else "expected a list of options"
    if kind is FieldType.BOOLEAN:
        return None if isinstance(value, bool) else "expected true or false"
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return "expected a date (YYYY-MM-DD)"
    return None
