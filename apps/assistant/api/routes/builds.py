"""The AI Builder's routes: request a build, follow it, read its files (the caller's only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.assistant.api.deps import AssistantService, User
from apps.assistant.builder import BuildNotReady, owned_build, request_build
from apps.assistant.builder_spec import AppSpec
from apps.assistant.builder_views import user_builds
from headwater.http import AUTH_ERRORS, BAD_REQUEST, NOT_FOUND, Envelope, ok

router = APIRouter(prefix="/assistant", tags=["assistant"], responses=AUTH_ERRORS)


def _links(build_id: str) -> dict[str, str]:
    return {
        "build_id": build_id,
        "status": f"/assistant/builds/{build_id}",
        "files": f"/assistant/builds/{build_id}/files",
    }


@router.post(
    "/builds",
    status_code=201,
    summary="Queue a generate-app job for a specification (entities, typed fields, commands)",
    responses=BAD_REQUEST,
)
async def create_build(
    body: AppSpec, user: User, service: AssistantService
) -> Envelope[dict[str, Any]]:
    build_id = await request_build(service.store, user.tenant_id, user.user_id, body)
    return ok({**_links(build_id), "app": body.app, "status": "queued"})


@router.get("/builds", summary="The caller's builds, newest first, with their status")
async def list_builds(user: User, service: AssistantService) -> Envelope[dict[str, Any]]:
    return ok({"builds": await user_builds(service.store, user.tenant_id, user.user_id)})


@router.get(
    "/builds/{build_id}",
    summary="A build's status, attempts, progress and last error",
    responses=NOT_FOUND,
)
async def get_build(
    build_id: str, user: User, service: AssistantService
) -> Envelope[dict[str, Any]]:
    build = await owned_build(service.store, user.tenant_id, user.user_id, build_id)
    return ok(build.summary())


@router.get(
    "/builds/{build_id}/files",
    summary="The generated app's files (404 build_not_ready until the build completes)",
    responses=NOT_FOUND,
)
async def build_files(
    build_id: str, user: User, service: AssistantService
) -> Envelope[dict[str, Any]]:
    build = await owned_build(service.store, user.tenant_id, user.user_id, build_id)
    if build.status != "completed":
        raise BuildNotReady(f"build {build_id} is {build.status}, it has no files yet")
    files = [{"path": path, "content": text} for path, text in sorted(build.files.items())]
    return ok({"build_id": build_id, "app": build.app, "files": files})
