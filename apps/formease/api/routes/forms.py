"""Forms: the draft, field-by-field edits, publishing, version history and diffs,
and per-field drop-off of one version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from apps.formease import queries
from apps.formease.api.deps import FormEaseService, IdempotencyKey, StaffActor
from apps.formease.api.models import FormPatch, Webhook
from apps.formease.commands import EditForm, SetWebhook
from apps.formease.domain.fields import ordered
from apps.formease.domain.forms import FormId, diff_versions
from headwater.errors import InvalidInput
from headwater.http import AUTH_ERRORS, CONFLICT, MAX_INT64, NOT_FOUND, Envelope, ok

router = APIRouter(prefix="/formease/forms", tags=["formease"], responses=AUTH_ERRORS)


@router.get(
    "/{form_id}",
    summary="The form's draft, its revision and its latest published version",
    responses=NOT_FOUND,
)
async def get_form(
    form_id: str, actor: StaffActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    form = await service.load_form(actor.tenant_id, form_id)
    return ok(
        {
            "form_id": form_id,
            "owner_id": form.owner_id,
            "title": form.title,
            "fields": form.fields,
            "published": form.published,
            "version": form.version,
        }
    )


@router.patch(
    "/{form_id}",
    summary="Edit the draft field by field (merges a stale edit, or 409)",
    responses={**NOT_FOUND, **CONFLICT},
)
async def edit_form(
    form_id: str,
    body: FormPatch,
    actor: StaffActor,
    service: FormEaseService,
    key: IdempotencyKey = None,
) -> Envelope[dict[str, Any]]:
    """Edits based on an old version merge field by field; the same field edited on
    both sides goes to the last write; a colliding title answers 409 with base,
    mine and theirs."""
    bad = body.keys_valid()
    if bad:
        raise InvalidInput("field keys must be lower_snake_case words", fields=bad)
    command = EditForm(
        form_id=FormId(form_id),
        based_on_version=body.based_on_version,
        title=body.title,
        set_fields={k: v.model_dump(mode="json") for k, v in body.set_fields.items()},
        remove_fields=body.remove_fields,
    )
    revision = await service.edit_form(actor.context(key, "edit-form"), command)
    return ok({"form_id": form_id, "version": revision.version, "published": revision.published})


@router.post(
    "/{form_id}/publish",
    summary="Publish the draft as a new immutable version",
    responses=NOT_FOUND,
)
async def publish_form(
    form_id: str, actor: StaffActor, service: FormEaseService, key: IdempotencyKey = None
) -> Envelope[dict[str, Any]]:
    revision = await service.publish(actor.context(key, "publish"), form_id)
    return ok({"form_id": form_id, "version": revision.version, "published": revision.published})


@router.put(
    "/{form_id}/webhook",
    summary="Post this form's submissions to a URL, signed",
    responses=NOT_FOUND,
)
async def set_webhook(
    form_id: str, body: Webhook, actor: StaffActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    """Submissions to this form are posted there, signed with ``secret`` (see webhooks)."""
    await service.load_form(actor.tenant_id, form_id)
    if not body.url.startswith(("http://", "https://")):
        raise InvalidInput("a webhook URL must be http:// or https://", field="url")
    command = SetWebhook(form_id=FormId(form_id), url=body.url, secret=body.secret)
    await service.bus.send(command, actor.context(None, "webhook"))
    return ok({"form_id": form_id, "url": body.url})


@router.delete(
    "/{form_id}/webhook", summary="Stop posting this form's submissions", responses=NOT_FOUND
)
async def remove_webhook(
    form_id: str, actor: StaffActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    await service.load_form(actor.tenant_id, form_id)
    command = SetWebhook(form_id=FormId(form_id), url=None, secret=None)
    await service.bus.send(command, actor.context(None, "webhook"))
    return ok({"form_id": form_id, "url": None})


@router.get("/{form_id}/versions", summary="The form's published versions", responses=NOT_FOUND)
async def list_versions(
    form_id: str, actor: StaffActor, service: FormEaseService
) -> Envelope[list[dict[str, Any]]]:
    form = await service.load_form(actor.tenant_id, form_id)
    return ok(
        [
            {
                "version": int(n),
                "title": v["title"],
                "published_at": v["at"],
                "fields": len(v["fields"]),
            }
            for n, v in sorted(form.versions.items(), key=lambda item: int(item[0]))
        ]
    )


@router.get(
    "/{form_id}/versions/{version}", summary="One published version's fields", responses=NOT_FOUND
)
async def get_version(
    form_id: str,
    version: Annotated[int, Path(ge=1, le=MAX_INT64)],
    actor: StaffActor,
    service: FormEaseService,
) -> Envelope[dict[str, Any]]:
    form = await service.load_form(actor.tenant_id, form_id)
    return ok({"version": version, **form.version_of(version)})


@router.get(
    "/{form_id}/diff", summary="What changed between two published versions", responses=NOT_FOUND
)
async def diff(
    form_id: str,
    actor: StaffActor,
    service: FormEaseService,
    from_version: int = Query(alias="from", ge=1, le=MAX_INT64),
    to_version: int = Query(alias="to", ge=1, le=MAX_INT64),
) -> Envelope[dict[str, Any]]:
    form = await service.load_form(actor.tenant_id, form_id)
    return ok(diff_versions(form.version_of(from_version), form.version_of(to_version)))


@router.get(
    "/{form_id}/dropoff",
    summary="Per field of a version: views, completions, drop-off",
    responses=NOT_FOUND,
)
async def dropoff(
    form_id: str,
    actor: StaffActor,
    service: FormEaseService,
    version: int = Query(ge=1, le=MAX_INT64),
) -> Envelope[dict[str, Any]]:
    """Per field of one version: sessions that saw it, submissions that completed with
    it shown, and the difference (never negative: a submission counts its unseen
    visible fields as seen). Branch-hidden fields are simply not seen."""
    form = await service.load_form(actor.tenant_id, form_id)
    fields = form.version_of(version)["fields"]
    counts = await queries.field_views(service.store, actor.tenant_id, form_id, version)
    rows = []
    for key, spec in ordered(fields):
        views, completed = counts.get(key, (0, 0))
        rows.append(
            {
                "field": key,
                "label": spec.label,
                "branch": spec.show_if is not None,
                "views": views,
                "completed": completed,
                "dropped": views - completed,
            }
        )
    return ok({"form_id": form_id, "version": version, "fields": rows})
