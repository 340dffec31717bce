"""Forms: an editable draft and immutable published versions, on one stream.

Two admins editing one form merge field by field (``merge={"fields"}``); the same
field edited on both sides goes to the last write; the title is declared ``refuse``,
so a stale rename that collides answers 409 with base, mine and theirs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.formease.domain.fields import check_branching
from headwater.domain import LAST_WRITE_WINS, Aggregate, AggregateId, ConflictPolicy, Event, when
from headwater.errors import InvalidInput, NotFound


class FormId(AggregateId, prefix="feform"):
    pass


class FormDraftStarted(Event, type="formease.FormDraftStarted"):
    owner_id: str
    title: str
    at: datetime


class FormRenamed(Event, type="formease.FormRenamed"):
    title: str


class FormFieldSet(Event, type="formease.FormFieldSet"):
    key: str
    spec: dict[str, Any]


class FormFieldRemoved(Event, type="formease.FormFieldRemoved"):
    key: str


class FormPublished(Event, type="formease.FormPublished"):
    """A frozen copy of the draft: what submissions opened on it are checked against."""

    version: int
    title: str
    fields: dict[str, dict[str, Any]]
    at: datetime


class WebhookSet(Event, type="formease.WebhookSet"):
    """Where this form's submissions are posted, and the key that signs them."""

    url: str
    secret: str


class WebhookRemoved(Event, type="formease.WebhookRemoved"):
    pass


class PublicLinkCreated(Event, type="formease.PublicLinkCreated"):
    """Respondents may open the form without an account through this link's token."""

    link_id: str
    at: datetime


class PublicLinkRevoked(Event, type="formease.PublicLinkRevoked"):
    link_id: str
    at: datetime


class FormDeleted(Event, type="formease.FormDeleted"):
    """The tombstone: the form, its submissions and its drop-off leave the read models;
    the admin feed shows ``form.deleted``."""

    form_id: str
    owner_id: str


class Form(
    Aggregate[FormId],
    type_name="formease.Form",
    snapshot_every=100,
    conflicts=ConflictPolicy(merge={"fields"}, refuse={"title"}, default=LAST_WRITE_WINS),
):
    owner_id: str = ""
    title: str = ""
    fields: dict[str, dict[str, Any]] = {}
    versions: dict[str, dict[str, Any]] = {}
    published: int = 0
    webhook: dict[str, str] | None = None
    #: The one public link's id (its token is signed over it), None when there is none.
    public_link: str | None = None
    deleted: bool = False

    def require_exists(self) -> None:
        # A deleted form answers like one that never was: 404 to staff and respondents.
        if not self.exists or self.deleted:
            raise NotFound(f"no form {self.id.value}")

    def delete(self) -> None:
        self.require_exists()
        self.record(FormDeleted(form_id=self.id.value, owner_id=self.owner_id))

    def start(self, owner_id: str, title: str, at: datetime) -> None:
        if not self.exists:
            self.record(FormDraftStarted(owner_id=owner_id, title=title, at=at))

    def edit(
        self, title: str | None, set_fields: dict[str, dict[str, Any]], remove: list[str]
    ) -> None:
        self.require_exists()
        if title is not None and title != self.title:
            self.record(FormRenamed(title=title))
        for key, spec in set_fields.items():
            if self.fields.get(key) != spec:
                self.record(FormFieldSet(key=key, spec=spec))
        for key in remove:
            if key in self.fields:
                self.record(FormFieldRemoved(key=key))

    def publish(self, at: datetime) -> int:
        self.require_exists()
        if not self.fields:
            raise InvalidInput("a form needs at least one field to be published")
        check_branching(self.fields)
        latest = self.versions.get(str(self.published))
        if latest is not None and latest["fields"] == self.fields and latest["title"] == self.title:
            return self.published  # nothing changed since: publishing again is a no-op
        version = self.published + 1
        self.record(FormPublished(version=version, title=self.title, fields=self.fields, at=at))
        return version

    def set_webhook(self, url: str | None, secret: str | None) -> None:
        self.require_exists()
        if url is None or secret is None:
            if self.webhook is not None:
                self.record(WebhookRemoved())
        elif self.webhook != {"url": url, "secret": secret}:
            self.record(WebhookSet(url=url, secret=secret))

    def create_public_link(self, link_id: str, at: datetime) -> None:
        """One link per form: a new one revokes the old, so a leaked link is replaced."""
        self.require_exists()
        if self.published == 0:
            raise InvalidInput("publish the form before sharing a public link")
        self.revoke_public_link(at)
        self.record(PublicLinkCreated(link_id=link_id, at=at))

    def revoke_public_link(self, at: datetime) -> None:
        self.require_exists()
        if self.public_link is not None:
            self.record(PublicLinkRevoked(link_id=self.public_link, at=at))

    def version_of(self, version: int) -> dict[str, Any]:
        found = self.versions.get(str(version))
        if found is None:
            raise NotFound(f"form {self.id.value} has no version {version}", version=version)
        return found

    @when(FormDraftStarted)
    def _started(self, event: FormDraftStarted) -> None:
        self.owner_id, self.title = event.owner_id, event.title

    @when(FormRenamed)
    def _renamed(self, event: FormRenamed) -> None:
        self.title = event.title

    @when(FormFieldSet)
    def _field_set(self, event: FormFieldSet) -> None:
        self.fields = {**self.fields, event.key: event.spec}

    @when(FormFieldRemoved)
    def _field_removed(self, event: FormFieldRemoved) -> None:
        self.fields = {k: v for k, v in self.fields.items() if k != event.key}

    @when(WebhookSet)
    def _webhook_set(self, event: WebhookSet) -> None:
        self.webhook = {"url": event.url, "secret": event.secret}

    @when(WebhookRemoved)
    def _webhook_removed(self, event: WebhookRemoved) -> None:
        self.webhook = None

    @when(PublicLinkCreated)
    def _link_created(self, event: PublicLinkCreated) -> None:
        self.public_link = event.link_id

    @when(PublicLinkRevoked)
    def _link_revoked(self, event: PublicLinkRevoked) -> None:
        self.public_link = None

    @when(FormDeleted)
    def _deleted(self, event: FormDeleted) -> None:
        self.deleted = True

    @when(FormPublished)
    def _published(self, event: FormPublished) -> None:
        self.published = event.version
        snapshot = {"title": event.title, "fields": event.fields, "at": event.at.isoformat()}
        self.versions = {**self.versions, str(event.version): snapshot}


def diff_versions(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two published versions, field by field."""
    before, after = old["fields"], new["fields"]
    return {
        "title": None
        if old["title"] == new["title"]
        else {"from": old["title"], "to": new["title"]},
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": {
            key: {
                name: {"from": before[key].get(name), "to": after[key].get(name)}
                for name in sorted(set(before[key]) | set(after[key]))
                if before[key].get(name) != after[key].get(name)
            }
            for key in sorted(set(before) & set(after))
            if before[key] != after[key]
        },
    }
