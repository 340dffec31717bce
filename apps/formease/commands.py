"""FormEase's commands and their handlers: every decision, and every limit, is here.

Handlers are pure deciders (the bus may run them more than once); the clock is read
by the route and passed in, so a retry decides on the same instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.formease.caching import InvalidatingBus
from apps.formease.delete_commands import register_deletes
from apps.formease.domain.forms import Form, FormId
from apps.formease.domain.sessions import OpenSession, SessionId, SubmissionReceived
from apps.formease.domain.users import FormUser, FormUserId, Plan, UserRole
from headwater.cache import Cache
from headwater.domain import Command, CommandBus, Repository


class RegisterUser(Command[str], name="formease.RegisterUser"):
    user_id: FormUserId
    email: str
    name: str
    plan: Plan
    role: UserRole
    at: datetime


class UpdateUser(Command[int], name="formease.UpdateUser"):
    """A patch; ``based_on_version`` opts in to merge / review on a stale write."""

    user_id: FormUserId
    based_on_version: int | None = None
    email: str | None = None
    name: str | None = None
    plan: Plan | None = None
    role: UserRole | None = None


class CreateForm(Command[str], name="formease.CreateForm"):
    user_id: FormUserId
    form_id: str
    title: str
    at: datetime
    #: The tenant's FormEase limits from its settings when the command was sent.
    limits: dict[str, int | None] = {}


class StartForm(Command[int], name="formease.StartForm"):
    form_id: FormId
    owner_id: str
    title: str
    at: datetime


class EditForm(Command[int], name="formease.EditForm"):
    form_id: FormId
    based_on_version: int | None = None
    title: str | None = None
    set_fields: dict[str, dict[str, Any]] = {}
    remove_fields: list[str] = []


class PublishForm(Command[int], name="formease.PublishForm"):
    form_id: FormId
    at: datetime


class SetWebhook(Command[int], name="formease.SetWebhook"):
    form_id: FormId
    url: str | None
    secret: str | None


class CreatePublicLink(Command[int], name="formease.CreatePublicLink"):
    form_id: FormId
    link_id: str
    at: datetime


class RevokePublicLink(Command[int], name="formease.RevokePublicLink"):
    form_id: FormId
    at: datetime


class OpenForm(Command[int], name="formease.OpenForm"):
    session_id: SessionId
    form_id: str
    owner_id: str
    version: int
    at: datetime


class ViewFields(Command[int], name="formease.ViewFields"):
    session_id: SessionId
    fields: list[str]
    known: list[str]


class SubmitSession(Command[int], name="formease.SubmitSession"):
    session_id: SessionId
    submission: SubmissionReceived
    visible: list[str]


class CloseSession(Command[int], name="formease.CloseSession"):
    session_id: SessionId
    submission_id: str
    visible: list[str]


def _register(command: RegisterUser, user: FormUser) -> str:
    user.register(command.email, command.name, command.plan, command.role, command.at)
    return user.id.value


def _update(command: UpdateUser, user: FormUser) -> int:
    user.update(**command.model_dump(include={"email", "name", "plan", "role"}))
    return user.version


def _create_form(command: CreateForm, user: FormUser) -> str:
    user.create_form(command.form_id, command.title, command.at, command.limits)
    return command.form_id


def _start_form(command: StartForm, form: Form) -> int:
    form.start(command.owner_id, command.title, command.at)
    return form.version


def _edit_form(command: EditForm, form: Form) -> int:
    form.edit(command.title, command.set_fields, command.remove_fields)
    return form.version


def _publish(command: PublishForm, form: Form) -> int:
    return form.publish(command.at)


def _set_webhook(command: SetWebhook, form: Form) -> int:
    form.set_webhook(command.url, command.secret)
    return form.version


def _create_link(command: CreatePublicLink, form: Form) -> int:
    form.create_public_link(command.link_id, command.at)
    return form.version


def _revoke_link(command: RevokePublicLink, form: Form) -> int:
    form.revoke_public_link(command.at)
    return form.version


def _open(command: OpenForm, session: OpenSession) -> int:
    session.open(command.form_id, command.owner_id, command.version, command.at)
    return session.version


def _view(command: ViewFields, session: OpenSession) -> int:
    session.view(command.fields, set(command.known))
    return session.version


def _submit(command: SubmitSession, session: OpenSession) -> int:
    session.submit(command.submission, command.visible)
    return session.version


def _close(command: CloseSession, session: OpenSession) -> int:
    session.close(command.submission_id, command.visible)
    return session.version


def make_bus(repository: Repository, cache: Cache | None = None) -> CommandBus:
    # Each submission writes its own session's stream: respondents do not contend,
    # and the bus's default retries cover a respondent racing themselves.
    bus = InvalidatingBus(repository)  # drops the cached figures (apps.formease.caching)
    bus.read_cache = cache
    bus.register(RegisterUser, FormUser, _register)
    bus.register(UpdateUser, FormUser, _update)
    bus.register(CreateForm, FormUser, _create_form)
    bus.register(StartForm, Form, _start_form)
    bus.register(EditForm, Form, _edit_form)
    bus.register(PublishForm, Form, _publish)
    bus.register(SetWebhook, Form, _set_webhook)
    bus.register(CreatePublicLink, Form, _create_link)
    bus.register(RevokePublicLink, Form, _revoke_link)
    bus.register(OpenForm, OpenSession, _open)
    bus.register(ViewFields, OpenSession, _view)
    bus.register(SubmitSession, OpenSession, _submit)
    bus.register(CloseSession, OpenSession, _close)
    register_deletes(bus)
    return bus
