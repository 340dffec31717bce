"""Request bodies: closed shapes (unknown fields are a 422), bounded sizes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from apps.formease.domain.fields import KEY_PATTERN, FieldSpec
from apps.formease.domain.users import Plan, UserRole


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewUser(Body):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    plan: Plan = Plan.FREE
    role: UserRole = UserRole.MEMBER


class UserPatch(Body):
    based_on_version: int | None = Field(default=None, ge=0)
    email: str | None = Field(
        default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    plan: Plan | None = None
    role: UserRole | None = None


class NewForm(Body):
    title: str = Field(min_length=1, max_length=200)


class FormPatch(Body):
    based_on_version: int | None = Field(default=None, ge=0)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    set_fields: dict[str, FieldSpec] = Field(default_factory=dict, max_length=200)
    remove_fields: list[str] = Field(default_factory=list, max_length=200)

    def keys_valid(self) -> list[str]:
        import re

        return [k for k in [*self.set_fields, *self.remove_fields] if not re.match(KEY_PATTERN, k)]


class Views(Body):
    token: str = Field(min_length=10, max_length=200)
    fields: list[str] = Field(min_length=1, max_length=200)


class NewSubmission(Body):
    token: str = Field(min_length=10, max_length=200)
    answers: dict[str, Any] = Field(max_length=200)


class Rejection(Body):
    reason: str = Field(default="", max_length=500)


class Webhook(Body):
    # The scheme is checked by the route, after the form is found: another tenant's
    # form must answer 404 whatever the body says.
    url: str = Field(min_length=8, max_length=2000)
    secret: str = Field(min_length=16, max_length=200)


class PublicViews(Body):
    fields: list[str] = Field(min_length=1, max_length=200)


class PublicSubmission(Body):
    answers: dict[str, Any] = Field(max_length=200)
