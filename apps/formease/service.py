"""The FormEase service: what routes call. Loads, decides through the bus, and tells.

One write spans two streams (a form's slot on its owner's stream, then the form's
own stream). The first write is the decision and the limit check; the second is
derived from it and is idempotent, so a retry with the same ``Idempotency-Key``
finishes the job and never writes twice. A submission is one append to its own
session's stream; its plan limit is checked in that append's transaction by the
usage read model (``apps.formease.usage``), so respondents never wait on each
other. The clock is read here, once: a command's ``at`` is part of what a repeat
must match, so a retry reuses the instant its first run recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from apps.formease.commands import (
    CloseSession,
    CreateForm,
    EditForm,
    OpenForm,
    PublishForm,
    RegisterUser,
    StartForm,
    SubmitSession,
    UpdateUser,
    ViewFields,
    make_bus,
)
from apps.formease.domain.fields import validate_answers
from apps.formease.domain.forms import Form, FormId
from apps.formease.domain.sessions import (
    OpenSession,
    SessionClosed,
    SessionId,
    SubmissionReceived,
)
from apps.formease.domain.users import (
    FormUser,
    FormUserId,
    Plan,
    PlanLimitReached,
    UserRole,
    plan_limits,
)
from apps.formease.usage import is_over_plan
from headwater.cache import Cache
from headwater.domain import (
    Command,
    CommandBus,
    CommandContext,
    CommandIdReused,
    CommandResult,
    Repository,
    idempotency,
)
from headwater.errors import (
    ConcurrencyError,
    HeadwaterError,
    InlineHandlerFailed,
    InvalidInput,
    MergeConflict,
    NotFound,
)
from headwater.eventstore import EventStore
from headwater.realtime import EXCLUDE_AUTHOR
from headwater.security import TenantSettings

R = TypeVar("R")
NAMESPACE = uuid.UUID("8c5b3f3e-6a0f-4f0e-9b7e-2f1d2c3b4a59")
Clock = Callable[[], datetime]


class SubmissionConflict(HeadwaterError):
    """The session changed under a submission over and over (a respondent racing
    themselves): refused whole, without naming any stream; sending it again is safe."""

    code = "submission_conflict"
    http_status = 409


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FormRevision:
    """A form resource's two numbers, answered alike by get, edit and publish: ``version``
    is the stream's revision (what ``based_on_version`` names), ``published`` the number
    of its latest published version (what respondents open and submissions carry)."""

    version: int
    published: int


class FormEase:
    def __init__(
        self,
        store: EventStore,
        secret: str,
        *,
        clock: Clock = _utc_now,
        tenant_settings: Callable[[str], Awaitable[TenantSettings]] | None = None,
        cache: Cache | None = None,
    ) -> None:
        self.store = store
        self._tenant_settings = tenant_settings
        self.repository = Repository(store)
        # With the node's cache, each command drops the cached figures it made stale.
        self.bus: CommandBus = make_bus(self.repository, cache)
        self._key = hashlib.sha256(f"formease-open:{secret}".encode()).digest()
        self.clock = clock

    # --- plumbing -----------------------------------------------------------------------

    @staticmethod
    def context(
        tenant_id: str,
        actor: str | None,
        key: str | None,
        scope: str,
        *,
        exclude_author: bool = False,
    ) -> CommandContext:
        """``exclude_author``: the events this command records reach every admin's
        feed but the author's own connections (they made the change; seed 003)."""
        metadata = {EXCLUDE_AUTHOR: True} if exclude_author else {}
        if key is None:
            return CommandContext(actor=actor, tenant_id=tenant_id, metadata=metadata)
        # Scoped so one client key used on two routes names two commands.
        return CommandContext(
            command_id=uuid.uuid5(NAMESPACE, f"{scope}:{tenant_id}:{key}"),
            actor=actor,
            tenant_id=tenant_id,
            metadata=metadata,
        )

    async def send(self, command: Command[R], context: CommandContext) -> CommandResult[R]:
        """Send on the bus; a true repeat (same command id) that differs only by the
        clock is resent with the recorded instant, so it replays instead of failing."""
        return await self._send(command, context)

    async def _send(self, command: Command[R], context: CommandContext) -> CommandResult[R]:
        try:
            return await self.bus.send(command, context)
        except CommandIdReused:
            # A true repeat differs only by the clock: resend with the recorded instant.
            prior = await self.store.read_event(idempotency.event_id(context, 0))
            if prior is None or "at" not in prior.data or "at" not in type(command).model_fields:
                raise
            again = command.model_copy(update={"at": datetime.fromisoformat(prior.data["at"])})
            return await self.bus.send(again, context)

    async def limits(self, tenant_id: str) -> dict[str, int | None]:
        """The tenant's FormEase limits from its settings (empty: the built-in plans)."""
        if self._tenant_settings is None:
            return {}
        settings = await self._tenant_settings(tenant_id)
        return {k: v for k, v in settings.limits.items() if k.startswith("formease.")}

    async def load_user(self, tenant_id: str, user_id: str) -> FormUser:
        user = await self.repository.load(FormUser, FormUserId(user_id), tenant_id=tenant_id)
        user.require_exists()
        return user

    async def load_form(self, tenant_id: str, form_id: str, version: int | None = None) -> Form:
        form = await self.repository.load(
            Form, FormId(form_id), tenant_id=tenant_id, version=version
        )
        form.require_exists()
        return form

    # --- users --------------------------------------------------------------------------

    async def register_user(
        self, context: CommandContext, email: str, name: str, plan: Plan, role: UserRole
    ) -> str:
        user_id = FormUserId(uuid.uuid5(NAMESPACE, str(context.command_id)))
        command = RegisterUser(
            user_id=user_id, email=email, name=name, plan=plan, role=role, at=self.clock()
        )
        return (await self._send(command, context)).value

    async def update_user(self, context: CommandContext, command: UpdateUser) -> int:
        await self.load_user(str(context.tenant_id), command.user_id.value)
        return (await self._send(command, context)).value

    # --- forms --------------------------------------------------------------------------

    async def create_form(self, context: CommandContext, owner_id: str, title: str) -> str:
        form_id = str(uuid.uuid5(NAMESPACE, f"form:{context.command_id}"))
        at = self.clock()
        limits = await self.limits(str(context.tenant_id))
        command = CreateForm(
            user_id=FormUserId(owner_id), form_id=form_id, title=title, at=at, limits=limits
        )
        created = await self._send(command, context)
        prior = await self.store.read_event(idempotency.event_id(context, 0))
        at = datetime.fromisoformat(prior.data["at"]) if prior is not None else at
        start = StartForm(form_id=FormId(form_id), owner_id=owner_id, title=title, at=at)
        await self._send(start, self._derived(context, "start"))
        return created.value

    async def edit_form(self, context: CommandContext, command: EditForm) -> FormRevision:
        form = await self.load_form(str(context.tenant_id), command.form_id.value)
        version = (await self._send(command, context)).value
        return FormRevision(version=version, published=form.published)

    async def publish(self, context: CommandContext, form_id: str) -> FormRevision:
        await self.load_form(str(context.tenant_id), form_id)
        command = PublishForm(form_id=FormId(form_id), at=self.clock())
        published = (await self._send(command, context)).value
        # The command answers the published number; the revision is the stream's.
        form = await self.load_form(str(context.tenant_id), form_id)
        return FormRevision(version=form.version, published=published)

    # --- sessions and submissions -------------------------------------------------------

    def _sign(self, tenant_id: str, session_id: str) -> str:
        mac = hmac.new(self._key, f"{tenant_id}:{session_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode()

    def token_for(self, tenant_id: str, session_id: str) -> str:
        return f"{session_id}.{self._sign(tenant_id, session_id)}"

    def session_of(self, tenant_id: str, token: str) -> SessionId:
        session_id, _, signature = token.partition(".")
        expected = self._sign(tenant_id, session_id) if session_id else ""
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
            raise InvalidInput("the open token is not valid", code="bad_open_token")
        return SessionId(session_id)

    async def open_form(self, tenant_id: str, actor: str | None, form_id: str) -> dict[str, Any]:
        form = await self.load_form(tenant_id, form_id)
        if form.published == 0:
            raise InvalidInput("this form has no published version yet", form_id=form_id)
        session_id = SessionId(uuid.uuid4().hex)
        command = OpenForm(
            session_id=session_id,
            form_id=form_id,
            owner_id=form.owner_id,
            version=form.published,
            at=self.clock(),
        )
        await self.bus.send(command, CommandContext(actor=actor, tenant_id=tenant_id))
        pinned = form.version_of(form.published)
        return {
            "token": self.token_for(tenant_id, session_id.value),
            "form_id": form_id,
            "version": form.published,
            "title": pinned["title"],
            "fields": pinned["fields"],
        }

    async def load_session(self, tenant_id: str, token: str) -> OpenSession:
        session = await self.repository.load(
            OpenSession, self.session_of(tenant_id, token), tenant_id=tenant_id
        )
        if not session.exists:
            raise NotFound("no such open session")
        return session

    async def view(self, tenant_id: str, token: str, fields: list[str]) -> None:
        session = await self.load_session(tenant_id, token)
        form = await self.load_form(tenant_id, session.form_id)
        known = list(form.version_of(session.form_version)["fields"])
        command = ViewFields(session_id=session.id, fields=fields, known=known)
        await self.bus.send(command, CommandContext(tenant_id=tenant_id))

    async def submit(
        self, tenant_id: str, actor: str | None, token: str, answers: dict[str, Any]
    ) -> SubmissionReceived:
        session = await self.load_session(tenant_id, token)
        # One submission per session: the command id is the session's, so a second
        # submit (a retry, or a race) replays the first instead of counting twice.
        context = CommandContext(
            command_id=uuid.uuid5(NAMESPACE, f"submit:{session.id.value}"),
            actor=actor,
            tenant_id=tenant_id,
        )
        prior = await self._prior_submission(context, answers)
        if prior is not None:
            if session.submission_id is None:
                # Recorded on a usage stream by an earlier version: close the session.
                await self._close_legacy(tenant_id, session, prior, context)
            return prior
        if session.submission_id is not None:
            raise SessionClosed("this session was submitted already")
        form = await self.load_form(tenant_id, session.form_id)
        visible = validate_answers(form.version_of(session.form_version)["fields"], answers)
        owner = await self.load_user(tenant_id, session.owner_id)
        now = self.clock()
        assert session.opened_at is not None
        elapsed = max(0, int((now - session.opened_at).total_seconds() * 1000))
        limit = plan_limits(owner.plan, await self.limits(tenant_id))[1]
        submission = SubmissionReceived(
            submission_id=str(uuid.uuid5(NAMESPACE, f"submission:{session.id.value}")),
            form_id=session.form_id,
            owner_id=session.owner_id,
            version=session.form_version,
            session_id=session.id.value,
            answers=answers,
            completion_ms=elapsed,
            at=now,
            limit=limit,
            form={
                "form_id": session.form_id,
                "title": form.title,
                "version": session.form_version,
                "owner": owner.summary(),
            },
        )
        command = SubmitSession(session_id=session.id, submission=submission, visible=visible)
        try:
            await self.bus.send(command, context)
        except CommandIdReused:
            # A twin submit of this session won (its clock differed): the first stands.
            first = await self._prior_submission(context, answers)
            if first is None:
                raise
            return first
        except InlineHandlerFailed as exc:
            if not is_over_plan(exc):
                raise
            raise PlanLimitReached(
                f"the {owner.plan} plan allows {limit} submissions a month",
                limit=limit,
                plan=owner.plan.value,
            ) from exc
        except MergeConflict:
            raise
        except ConcurrencyError as exc:
            # The message would name the session's stream: say what happened instead.
            raise SubmissionConflict("the session changed while it was submitted") from exc
        return submission

    async def _prior_submission(
        self, context: CommandContext, answers: dict[str, Any]
    ) -> SubmissionReceived | None:
        prior = await self.store.read_event(idempotency.event_id(context, 0))
        if prior is None:
            return None
        submission = SubmissionReceived.model_validate(prior.data)
        if submission.answers != answers:
            raise SessionClosed("this session was submitted already")
        return submission

    async def _close_legacy(
        self,
        tenant_id: str,
        session: OpenSession,
        submission: SubmissionReceived,
        context: CommandContext,
    ) -> None:
        form = await self.load_form(tenant_id, submission.form_id)
        fields = form.version_of(submission.version)["fields"]
        visible = validate_answers(fields, submission.answers)
        close = CloseSession(
            session_id=session.id, submission_id=submission.submission_id, visible=visible
        )
        await self.bus.send(close, self._derived(context, "close"))

    @staticmethod
    def _derived(context: CommandContext, step: str) -> CommandContext:
        return CommandContext(
            command_id=uuid.uuid5(context.command_id, step),
            correlation_id=context.correlation,
            actor=context.actor,
            tenant_id=context.tenant_id,
            metadata=context.metadata,
        )
