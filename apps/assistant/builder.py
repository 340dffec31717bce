"""The AI Builder: ``generate-app`` jobs that turn an ``AppSpec`` into an app's files.

A build is a stream, ``assistantbuild-{build_id}``, in its tenant: requested (with the
spec), progress per step, a failed attempt, completed (with the files) or failed. The
job is enqueued atomically with ``BuildRequested`` (a trigger on the jobs module) and
run by the node's shared workers: 3 attempts, exponential backoff from 1 s, and a job
whose last attempt fails is a dead letter on ``/admin``'s jobs panel.

The code is always the deterministic generator's (``builder_render``). When an
OpenAI-compatible provider is configured it writes the README's description; if it
fails, the attempt fails and is retried, and the last attempt's error is the build's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Final

from apps.assistant.builder_render import render
from apps.assistant.builder_spec import AppSpec
from apps.assistant.domain.threads import new_id, now
from apps.assistant.providers.base import Provider, Result
from headwater import RecordedEvent
from headwater.errors import ConcurrencyError, NotFound
from headwater.eventstore import NO_STREAM, EventStore, NewEvent
from headwater.jobs import Backoff, Job, JobsModule

log = logging.getLogger("apps.assistant")

JOB: Final = "generate-app"
CATEGORY: Final = "assistantbuild"
#: Seed 004: the AI Builder's queue gives each job 3 attempts, backing off from 1 s.
BUILD_ATTEMPTS: Final = 3
BUILD_BACKOFF: Final = Backoff("exponential", base=1.0, max=30.0)
#: The provider's description is a paragraph, not an essay.
MAX_DESCRIPTION: Final = 500

BUILD_REQUESTED: Final = "assistant.BuildRequested"
BUILD_PROGRESS: Final = "assistant.BuildProgress"
BUILD_ATTEMPT_FAILED: Final = "assistant.BuildAttemptFailed"
BUILD_COMPLETED: Final = "assistant.BuildCompleted"
BUILD_FAILED: Final = "assistant.BuildFailed"
#: The steps of one attempt, in order; progress is "step n of STEPS".
STEPS: Final = ("started", "describing", "rendering", "checking")


def build_stream(build_id: str) -> str:
    return f"{CATEGORY}-{build_id}"


class BuildNotFound(NotFound):
    code = "build_not_found"


class BuildNotReady(NotFound):
    code = "build_not_ready"


@dataclass
class Build:
    """A build folded from its stream."""

    build_id: str
    user_id: str = ""
    app: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    attempts: int = 0
    step: str = ""
    done: int = 0
    error: str | None = None
    description: str = ""
    files: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        self.version, self.updated_at = event.version, str(data.get("at", ""))
        if event.type == BUILD_REQUESTED:
            self.user_id, self.spec = data["user_id"], data["spec"]
            self.app, self.created_at = data["spec"]["app"], data["at"]
        elif event.type == BUILD_PROGRESS:
            self.status, self.attempts = "running", data["attempt"]
            self.step, self.done = data["step"], data["done"]
        elif event.type == BUILD_ATTEMPT_FAILED:
            self.status, self.attempts, self.error = "retrying", data["attempt"], data["error"]
        elif event.type == BUILD_COMPLETED:
            self.status, self.attempts, self.error = "completed", data["attempt"], None
            self.step, self.done = "completed", len(STEPS)
            self.files, self.description = data["files"], data["description"]
        elif event.type == BUILD_FAILED:
            self.status, self.error = "failed", data["error"]

    def summary(self) -> dict[str, Any]:
        return {
            "build_id": self.build_id,
            "app": self.app,
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": BUILD_ATTEMPTS,
            "progress": {"step": self.step, "done": self.done, "total": len(STEPS)},
            "error": self.error,
            "description": self.description,
            "files": sorted(self.files),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


async def load_build(store: EventStore, build_id: str, tenant_id: str | None) -> Build:
    build = Build(build_id)
    async for event in store.read_stream(build_stream(build_id), tenant_id=tenant_id):
        build.apply(event)
    return build


async def request_build(store: EventStore, tenant_id: str, user_id: str, spec: AppSpec) -> str:
    build_id = new_id()
    data = {"build_id": build_id, "user_id": user_id, "spec": spec.model_dump(), "at": now()}
    await store.append(
        build_stream(build_id),
        NewEvent(BUILD_REQUESTED, data),
        expected_version=NO_STREAM,
        tenant_id=tenant_id,
    )
    return build_id


async def owned_build(store: EventStore, tenant_id: str, user_id: str, build_id: str) -> Build:
    """Another user's build reads as missing, as threads do."""
    build = await load_build(store, build_id, tenant_id)
    if build.version == 0 or build.user_id != user_id:
        raise BuildNotFound(f"no build {build_id}")
    return build


def _job_payload(event: RecordedEvent) -> dict[str, str]:
    return {"build_id": str(event.data["build_id"]), "user_id": str(event.data["user_id"])}


def _job_key(event: RecordedEvent) -> str:
    return f"{JOB}:{event.data['build_id']}"


def describe_prompt(spec: AppSpec) -> list[dict[str, str]]:
    entities = "; ".join(
        f"{e.name} ({', '.join(f'{f.name}: {f.type}' for f in e.fields)})" for e in spec.entities
    )
    ask = f"Describe in two sentences an app named {spec.app} with these entities: {entities}."
    if spec.description:
        ask += f" Its author says: {spec.description}"
    return [
        {"role": "system", "content": "You write short, plain README descriptions."},
        {"role": "user", "content": ask},
    ]


class BuildJob:
    """The ``generate-app`` handler; the store and provider are the started node's."""

    def __init__(self) -> None:
        self.store: EventStore | None = None
        #: Only a configured model writes descriptions; without one the build is all
        #: the deterministic generator's.
        self.provider: Provider | None = None

    def declare(self, jobs: JobsModule) -> None:
        jobs.on_event(
            BUILD_REQUESTED,
            JOB,
            payload=_job_payload,
            dedupe_key=_job_key,
            attempts=BUILD_ATTEMPTS,
            backoff=BUILD_BACKOFF,
        )
        jobs.handler(JOB)(self.run)

    async def run(self, job: Job) -> None:
        store = self.store
        if store is None:
            raise RuntimeError("the assistant is not started on this node")
        build = await load_build(store, str(job.payload["build_id"]), job.tenant_id)
        if build.finished or build.version == 0:
            return
        step = _Steps(store, build, job)
        try:
            await step("started")
            spec = AppSpec.model_validate(build.spec)
            description = ""
            if self.provider is not None:
                await step("describing")
                description = await self._describe(self.provider, spec)
            await step("rendering")
            files = render(spec, description)
            await step("checking")
            for path, text in files.items():
                if path.endswith(".py"):
                    compile(text, path, "exec")  # never hand back a file that cannot load
        except Exception as exc:
            await step.failed(f"{type(exc).__name__}: {exc}"[:500])
            raise
        await step.completed(files, description)

    async def _describe(self, provider: Provider, spec: AppSpec) -> str:
        text = ""
        async for delta in provider.stream(describe_prompt(spec), Result()):
            text += delta
        return " ".join(text.split())[:MAX_DESCRIPTION]


class _Steps:
    """Appends one attempt's events at the versions it expects: an attempt whose lease
    lapsed (and is still running somewhere) cannot complete a build twice."""

    def __init__(self, store: EventStore, build: Build, job: Job) -> None:
        self.store, self.build, self.job = store, build, job

    async def _append(self, event_type: str, data: dict[str, Any]) -> None:
        body = {"build_id": self.build.build_id, "user_id": self.build.user_id, **data}
        body["at"] = now()
        result = await self.store.append(
            build_stream(self.build.build_id),
            NewEvent(event_type, body),
            expected_version=self.build.version,
            tenant_id=self.job.tenant_id,
        )
        self.build.version = result.version

    async def __call__(self, name: str) -> None:
        done = STEPS.index(name)
        data = {"attempt": self.job.attempts, "step": name, "done": done}
        await self._append(BUILD_PROGRESS, data)

    async def failed(self, error: str) -> None:
        build_id, attempt = self.build.build_id, self.job.attempts
        log.warning("assistant: build %s attempt %s failed: %s", build_id, attempt, error)
        try:
            await self._append(BUILD_ATTEMPT_FAILED, {"attempt": self.job.attempts, "error": error})
            if self.job.attempts_left == 0:
                await self._append(BUILD_FAILED, {"attempts": self.job.attempts, "error": error})
        except ConcurrencyError:
            pass  # another attempt wrote since; the job's own failure still counts

    async def completed(self, files: dict[str, str], description: str) -> None:
        data = {"attempt": self.job.attempts, "files": files, "description": description}
        await self._append(BUILD_COMPLETED, data)
