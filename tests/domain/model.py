"""A small domain used across the write-side tests, shaped like the seeds' apps.

Users follow the backoffice rules (email, role and plan are critical; every other field
is last-write-wins); forms merge their fields key by key; guests count check-ins, which
commute.
"""

from __future__ import annotations

from typing import Any

from headwater.domain import (
    LAST_WRITE_WINS,
    Aggregate,
    AggregateId,
    Command,
    CommandBus,
    ConflictPolicy,
    Event,
    Repository,
    when,
)


class UserId(AggregateId, prefix="user"):
    pass


class FormId(AggregateId, prefix="form"):
    pass


class GuestId(AggregateId, prefix="guest"):
    pass


# --- events -----------------------------------------------------------------------------


class UserRegistered(Event, type="test.UserRegistered"):
    email: str
    name: str


class UserUpdated(Event, type="test.UserUpdated"):
    """Carries only the fields that changed."""

    changes: dict[str, Any]


class FormFieldSet(Event, type="test.FormFieldSet"):
    key: str
    value: dict[str, Any]


class FormFieldRemoved(Event, type="test.FormFieldRemoved"):
    key: str


class FormRenamed(Event, type="test.FormRenamed"):
    title: str


class GuestCheckedIn(Event, type="test.GuestCheckedIn"):
    gate: str


# --- aggregates -------------------------------------------------------------------------


class User(
    Aggregate[UserId],
    type_name="test.User",
    snapshot_every=3,
    conflicts=ConflictPolicy(critical={"email", "role", "plan"}, default=LAST_WRITE_WINS),
):
    email: str = ""
    name: str = ""
    role: str = "member"
    plan: str = "free"
    city: str = ""
    bio: str = ""

    def register(self, email: str, name: str) -> None:
        if self.exists:
            raise ValueError("already registered")
        self.record(UserRegistered(email=email, name=name))

    def update(self, **fields: Any) -> None:
        changes = {k: v for k, v in fields.items() if v is not None and getattr(self, k) != v}
        if changes:
            self.record(UserUpdated(changes=changes))

    @when(UserRegistered)
    def _registered(self, event: UserRegistered) -> None:
        self.email = event.email
        self.name = event.name

    @when(UserUpdated)
    def _updated(self, event: UserUpdated) -> None:
        for name, value in event.changes.items():
            setattr(self, name, value)


class Form(Aggregate[FormId], type_name="test.Form", conflicts=ConflictPolicy(merge={"fields"})):
    title: str = ""
    fields: dict[str, dict[str, Any]] = {}

    @when(FormFieldSet)
    def _field_set(self, event: FormFieldSet) -> None:
        self.fields = {**self.fields, event.key: event.value}

    @when(FormFieldRemoved)
    def _field_removed(self, event: FormFieldRemoved) -> None:
        self.fields = {k: v for k, v in self.fields.items() if k != event.key}

    @when(FormRenamed)
    def _renamed(self, event: FormRenamed) -> None:
        self.title = event.title


class Guest(Aggregate[GuestId], type_name="test.Guest", snapshot_every=2):
    check_ins: int = 0
    gates: list[str] = []

    @when(GuestCheckedIn)
    def _checked_in(self, event: GuestCheckedIn) -> None:
        self.check_ins += 1
        self.gates = [*self.gates, event.gate]


# --- commands ---------------------------------------------------------------------------


class RegisterUser(Command[UserId], name="test.RegisterUser"):
    user_id: UserId
    email: str
    name: str


class UpdateUser(Command[None], name="test.UpdateUser"):
    """A patch: fields left out (None) are not touched."""

    user_id: UserId
    based_on_version: int | None = None
    email: str | None = None
    name: str | None = None
    role: str | None = None
    plan: str | None = None
    city: str | None = None
    bio: str | None = None


class EditForm(Command[None], name="test.EditForm"):
    form_id: FormId
    based_on_version: int | None = None
    title: str | None = None
    set_fields: dict[str, dict[str, Any]] = {}
    remove_fields: list[str] = []


class CheckIn(Command[int], name="test.CheckIn"):
    """Returns the guest's check-in count."""

    guest_id: GuestId
    gate: str


def register_user(command: RegisterUser, user: User) -> UserId:
    user.register(command.email, command.name)
    return user.id


def update_user(command: UpdateUser, user: User) -> None:
    user.update(**command.model_dump(exclude={"user_id", "based_on_version"}))


def edit_form(command: EditForm, form: Form) -> None:
    if command.title is not None and command.title != form.title:
        form.record(FormRenamed(title=command.title))
    for key, value in command.set_fields.items():
        if form.fields.get(key) != value:
            form.record(FormFieldSet(key=key, value=value))
    for key in command.remove_fields:
        if key in form.fields:
            form.record(FormFieldRemoved(key=key))


async def check_in(command: CheckIn, guest: Guest) -> int:
    guest.record(GuestCheckedIn(gate=command.gate))
    return guest.check_ins


def make_bus(repo: Repository, **options: Any) -> CommandBus:
    bus = CommandBus(repo, **options)
    bus.register(RegisterUser, User, register_user)
    bus.register(UpdateUser, User, update_user)
    bus.register(EditForm, Form, edit_form)
    bus.register(CheckIn, Guest, check_in)
    return bus
