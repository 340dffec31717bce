"""FormEase users: the SaaS's customers, each with a plan and a role.

They are app-level users, not Headwater accounts: the operator's staff sign in as
accounts of the operator's tenant and manage these users through the backoffice.
Email, role and plan are critical: a stale write touching them is parked for review.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from headwater.domain import LAST_WRITE_WINS, Aggregate, AggregateId, ConflictPolicy, Event, when
from headwater.errors import HeadwaterError, InvalidInput, NotFound


class Plan(StrEnum):
    FREE = "free"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


class UserRole(StrEnum):
    MEMBER = "member"
    EDITOR = "editor"
    OWNER = "owner"


#: (forms, submissions per calendar month, UTC); None means unlimited. The defaults:
#: a tenant's settings override each one (see :func:`plan_limits`).
PLAN_LIMITS: Final[dict[Plan, tuple[int | None, int | None]]] = {
    Plan.FREE: (3, 100),
    Plan.PREMIUM: (50, 10_000),
    Plan.ENTERPRISE: (None, None),
}


def limit_keys(plan: Plan) -> tuple[str, str]:
    """The names of ``plan``'s limits in a tenant's settings (``headwater.security``)."""
    return f"formease.{plan.value}.forms", f"formease.{plan.value}.submissions"


def plan_limits(plan: Plan, overrides: Mapping[str, int | None]) -> tuple[int | None, int | None]:
    """``plan``'s (forms, submissions a month) with the tenant's settings applied.

    ``overrides`` are the tenant's limits (``TenantSettings.limits``): a key there,
    even ``null`` (unlimited), wins over the built-in default.
    """
    forms, submissions = PLAN_LIMITS[plan]
    forms_key, submissions_key = limit_keys(plan)
    return overrides.get(forms_key, forms), overrides.get(submissions_key, submissions)


class PlanLimitReached(HeadwaterError):
    code = "plan_limit_reached"
    http_status = 403


class FormUserId(AggregateId, prefix="feuser"):
    pass


class UserRegistered(Event, type="formease.UserRegistered"):
    email: str
    name: str
    plan: Plan
    role: UserRole
    at: datetime


class UserUpdated(Event, type="formease.UserUpdated"):
    """Carries the fields that changed, and the user as it is after them."""

    changes: dict[str, Any]
    #: The user after the change (id, email, name, plan, role): what the admin feed's
    #: ``user.updated`` shows without a second read. Empty in events recorded before.
    user: dict[str, Any] = {}


class UserActive(Event, type="formease.UserActive"):
    """The user signed in to FormEase (what the seed's ``last_login`` filter reads)."""

    at: datetime


class FormCreated(Event, type="formease.FormCreated"):
    """Recorded on the owner's stream: that is what makes the forms limit exact."""

    form_id: str
    title: str
    at: datetime
    #: The owner (id, email, name, plan): what the admin feed's ``form.created`` shows.
    user: dict[str, Any] = {}


class UserDeleted(Event, type="formease.UserDeleted"):
    """The tombstone: the user, their forms and their submissions leave the read
    models; the admin feed shows ``user.deleted``. Names the user by id only."""

    user_id: str


class FormUser(
    Aggregate[FormUserId],
    type_name="formease.User",
    snapshot_every=50,
    conflicts=ConflictPolicy(critical={"email", "role", "plan"}, default=LAST_WRITE_WINS),
):
    email: str = ""
    name: str = ""
    plan: Plan = Plan.FREE
    role: UserRole = UserRole.MEMBER
    form_count: int = 0
    deleted: bool = False

    def register(self, email: str, name: str, plan: Plan, role: UserRole, at: datetime) -> None:
        if self.exists:
            raise InvalidInput("this user is already registered", user_id=self.id.value)
        self.record(UserRegistered(email=email, name=name, plan=plan, role=role, at=at))

    def require_exists(self) -> None:
        # A deleted user answers like one that never was: 404, never a half-dead edit.
        if not self.exists or self.deleted:
            raise NotFound(f"no FormEase user {self.id.value}")

    def delete(self) -> None:
        self.require_exists()
        self.record(UserDeleted(user_id=self.id.value))

    def update(self, **fields: Any) -> None:
        self.require_exists()
        changes = {k: v for k, v in fields.items() if v is not None and getattr(self, k) != v}
        if changes:
            self.record(UserUpdated(changes=changes, user={**self.summary(), **changes}))

    def summary(self) -> dict[str, Any]:
        """Who this user is, for the admin feed's events."""
        return {
            "user_id": self.id.value,
            "email": self.email,
            "name": self.name,
            "plan": self.plan.value,
            "role": self.role.value,
        }

    def create_form(
        self,
        form_id: str,
        title: str,
        at: datetime,
        overrides: Mapping[str, int | None] | None = None,
    ) -> None:
        self.require_exists()
        limit = plan_limits(self.plan, overrides or {})[0]
        # Checked against this stream's state and saved with its expected version:
        # two concurrent creations cannot both see the last free slot.
        if limit is not None and self.form_count >= limit:
            raise PlanLimitReached(
                f"the {self.plan} plan allows {limit} forms", limit=limit, plan=self.plan.value
            )
        self.record(FormCreated(form_id=form_id, title=title, at=at, user=self.summary()))

    @when(UserRegistered)
    def _registered(self, event: UserRegistered) -> None:
        self.email, self.name = event.email, event.name
        self.plan, self.role = event.plan, event.role

    @when(UserUpdated)
    def _updated(self, event: UserUpdated) -> None:
        for name, value in event.changes.items():
            if name == "plan":
                value = Plan(value)
            elif name == "role":
                value = UserRole(value)
            setattr(self, name, value)

    @when(UserDeleted)
    def _deleted(self, event: UserDeleted) -> None:
        self.deleted = True

    @when(UserActive)
    def _active(self, event: UserActive) -> None:
        pass

    @when(FormCreated)
    def _form_created(self, event: FormCreated) -> None:
        self.form_count += 1
