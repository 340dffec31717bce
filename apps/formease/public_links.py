"""Public links: a published form opened and submitted by anyone holding its link.

A respondent has no account, so the link is the credential. Its token is the tenant,
the form and a random link id, signed with the node's secret by ``itsdangerous`` (salt
``formease.link``, so no other signed value of the node passes as a link): unguessable
(a forged or altered token fails the signature), and found without a lookup table (the
token names its tenant). Revocable: the form holds its one current link id, so a revoked or
replaced link names an id the form no longer has. Every failure answers the same 404,
so a probe learns nothing about which forms exist.

The session a respondent opens is an ordinary open session (same pinning, same
validation, same completion clock); only its actor differs: ``link:<id>``.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, Signer, URLSafeSerializer

from apps.formease.commands import CreatePublicLink, RevokePublicLink
from apps.formease.domain.forms import Form, FormId
from apps.formease.domain.sessions import SubmissionReceived
from apps.formease.service import FormEase
from headwater.domain import CommandContext
from headwater.errors import NotFound

_NO_LINK = "no such form link"


class PublicLinks:
    def __init__(self, service: FormEase, secret: str) -> None:
        self.service = service
        # No expiry: a link lives until revoked (the form names its one live link id).
        self._tokens = URLSafeSerializer(secret, salt="formease.link")
        self._link_ids = Signer(secret, salt="formease.link-id")

    def token(self, tenant_id: str, form_id: str, link_id: str) -> str:
        return self._tokens.dumps([tenant_id, form_id, link_id])

    def parse(self, token: str) -> tuple[str, str, str]:
        try:
            payload = self._tokens.loads(token)
        except BadSignature:
            raise NotFound(_NO_LINK) from None
        if not (isinstance(payload, list) and len(payload) == 3):
            raise NotFound(_NO_LINK)
        if not all(isinstance(part, str) for part in payload):
            raise NotFound(_NO_LINK)
        tenant_id, form_id, link_id = payload
        return tenant_id, form_id, link_id

    # --- the form's staff ---------------------------------------------------------------

    async def create(self, context: CommandContext, form_id: str) -> str:
        tenant_id = str(context.tenant_id)
        await self.service.load_form(tenant_id, form_id)
        # From the command's id under the secret key: a retry with the same idempotency
        # key names the same link (and replays), and no one can compute it without the key.
        link_id = self._link_ids.get_signature(context.command_id.bytes).decode()[:16]
        command = CreatePublicLink(
            form_id=FormId(form_id), link_id=link_id, at=self.service.clock()
        )
        await self.service.send(command, context)
        form = await self.service.load_form(tenant_id, form_id)
        # A replayed request (same idempotency key) answers the link it made the first time.
        assert form.public_link is not None
        return self.token(tenant_id, form_id, form.public_link)

    async def revoke(self, context: CommandContext, form_id: str) -> None:
        await self.service.load_form(str(context.tenant_id), form_id)
        command = RevokePublicLink(form_id=FormId(form_id), at=self.service.clock())
        await self.service.send(command, context)

    async def current(self, tenant_id: str, form_id: str) -> str | None:
        form = await self.service.load_form(tenant_id, form_id)
        if form.public_link is None:
            return None
        return self.token(tenant_id, form_id, form.public_link)

    # --- respondents --------------------------------------------------------------------

    async def resolve(self, token: str) -> tuple[str, Form, str]:
        """The tenant, the form and the link id a live token names; 404 otherwise."""
        tenant_id, form_id, link_id = self.parse(token)
        try:
            form = await self.service.load_form(tenant_id, form_id)
        except NotFound:
            raise NotFound(_NO_LINK) from None
        if form.public_link != link_id or form.published == 0:
            raise NotFound(_NO_LINK)
        return tenant_id, form, link_id

    async def open(self, token: str) -> dict[str, Any]:
        tenant_id, form, link_id = await self.resolve(token)
        opened = await self.service.open_form(tenant_id, f"link:{link_id}", form.id.value)
        return {**opened, "session": opened.pop("token")}

    async def _session_on(self, token: str, session: str) -> tuple[str, str]:
        tenant_id, form, link_id = await self.resolve(token)
        opened = await self.service.load_session(tenant_id, session)
        if opened.form_id != form.id.value:
            raise NotFound("no such open session")  # a session of another form
        return tenant_id, link_id

    async def view(self, token: str, session: str, fields: list[str]) -> None:
        tenant_id, _ = await self._session_on(token, session)
        await self.service.view(tenant_id, session, fields)

    async def submit(self, token: str, session: str, answers: dict[str, Any]) -> SubmissionReceived:
        tenant_id, link_id = await self._session_on(token, session)
        return await self.service.submit(tenant_id, f"link:{link_id}", session, answers)
