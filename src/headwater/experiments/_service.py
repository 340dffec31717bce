"""``Experiments``: define, start and stop experiments and flags; assign subjects.

Assignment is the hash's (``hashing``), made sticky by an exposure event: the first
time a subject is assigned, ``experiment.exposure`` is appended to a stream of its
own (one per experiment and subject) with ``expected_version=NO_STREAM`` and an id
derived from the pair. Two nodes assigning the same subject at once race on that
stream: one append wins, the other gets a conflict and reads the winner's variant, so
a subject is never counted in two variants even if weights changed in between.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from headwater.errors import (
    ConcurrencyError,
    DuplicateEventId,
    ExperimentNotFound,
    ExperimentStateError,
)
from headwater.eventstore import EventStore
from headwater.eventstore._records import NO_STREAM, NewEvent, RecordedEvent
from headwater.experiments._definitions import (
    DEFINED,
    DEFINITION_TYPES,
    EXPOSURE,
    SRM_DETECTED,
    STARTED,
    STOPPED,
    Experiment,
    ExperimentSpec,
    fold,
    valid_key,
)
from headwater.experiments._hashing import check_subject, in_traffic, pick_variant

_EXPOSURE_IDS: Final = uuid.UUID("6f1d2c3e-6c1b-4d55-9b7a-1f1d1e0e5a18")


def _tenant_tag(tenant_id: str) -> str:
    # Streams are global; a digest keeps two tenants' "checkout" keys apart and the id short.
    return hashlib.sha256(tenant_id.encode()).hexdigest()[:16]


def definition_stream(tenant_id: str, key: str) -> str:
    return f"hw.experiment-{_tenant_tag(tenant_id)}-{key}"


def exposure_stream(tenant_id: str, key: str, subject: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}\x1f{key}\x1f{subject}".encode()).hexdigest()[:40]
    return f"hw.exposure-{digest}"


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: str
    variant: str
    payload: dict[str, Any]
    #: True when this call wrote the exposure (the subject's first sight of a variant).
    first_exposure: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "variant": self.variant,
            "payload": self.payload,
            "first_exposure": self.first_exposure,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Experiments:
    """The experiments of every tenant of one store."""

    def __init__(self, store: EventStore, *, clock: Callable[[], str] = _now) -> None:
        self.store = store
        self._clock = clock

    # --- definitions ---------------------------------------------------------------

    async def define(self, tenant_id: str, spec: ExperimentSpec, *, actor: str = "") -> Experiment:
        """Create or replace the declaration (a running experiment keeps running)."""
        await self.store.append(
            definition_stream(tenant_id, spec.key),
            NewEvent(DEFINED, {"spec": spec.model_dump(mode="json"), "by": actor}),
            tenant_id=tenant_id,
        )
        return await self.get(tenant_id, spec.key)

    async def start(self, tenant_id: str, key: str, *, actor: str = "") -> Experiment:
        experiment = await self.get(tenant_id, key)
        if experiment.status == "running":
            return experiment
        await self._append(experiment, STARTED, {"at": self._clock(), "by": actor})
        return await self.get(tenant_id, key)

    async def stop(self, tenant_id: str, key: str, *, reason: str, actor: str = "") -> Experiment:
        experiment = await self.get(tenant_id, key)
        if experiment.status != "running":
            raise ExperimentStateError(
                f"experiment {key!r} is not running", status=experiment.status
            )
        await self._append(
            experiment, STOPPED, {"at": self._clock(), "reason": reason, "by": actor}
        )
        return await self.get(tenant_id, key)

    async def mark_srm(self, experiment: Experiment, p_value: float) -> bool:
        """Record the sample-ratio alarm once; False when another node recorded it first."""
        if experiment.srm_detected:
            return False
        try:
            await self._append(experiment, SRM_DETECTED, {"at": self._clock(), "p_value": p_value})
        except ConcurrencyError:
            return False
        return True

    async def _append(self, experiment: Experiment, type_: str, data: Mapping[str, Any]) -> None:
        # Against the version read: a start racing a guardrail's stop fails one of them
        # instead of silently reordering them.
        await self.store.append(
            definition_stream(experiment.tenant_id, experiment.key),
            NewEvent(type_, data),
            expected_version=experiment.version,
            tenant_id=experiment.tenant_id,
        )

    async def get(self, tenant_id: str, key: str) -> Experiment:
        if not valid_key(key):
            raise ExperimentNotFound(f"no experiment {key!r}")
        events = [
            e
            async for e in self.store.read_stream(
                definition_stream(tenant_id, key), tenant_id=tenant_id
            )
        ]
        experiment = fold(tenant_id, events)
        if experiment is None:
            raise ExperimentNotFound(f"no experiment {key!r}")
        return experiment

    async def list(self, tenant_id: str | None = None) -> list[Experiment]:
        """Every experiment of a tenant (or of all tenants: the guardrail monitor)."""
        streams: dict[tuple[str, str], list[RecordedEvent]] = defaultdict(list)
        async for event in self.store.read_all(types=DEFINITION_TYPES, tenant_id=tenant_id):
            if event.tenant_id is not None:
                streams[(event.tenant_id, event.stream_id)].append(event)
        found = [fold(tenant, events) for (tenant, _), events in streams.items()]
        return sorted((e for e in found if e is not None), key=lambda e: (e.tenant_id, e.key))

    # --- assignment ----------------------------------------------------------------

    async def get_variant(
        self,
        tenant_id: str,
        key: str,
        subject: str,
        *,
        plan: str | None = None,
        attributes: Mapping[str, object] | None = None,
    ) -> Assignment | None:
        """The subject's variant, recording its exposure the first time; ``None`` when
        the experiment is not running or the subject is not targeted or not in traffic
        (the app then shows its default)."""
        check_subject(subject)
        experiment = await self.get(tenant_id, key)
        spec = experiment.spec
        if experiment.status != "running":
            # Stopped (a guardrail saw harm) or not started: everyone gets the default,
            # including subjects who saw a variant before.
            return None
        stream = exposure_stream(tenant_id, key, subject)
        existing = await self._exposure(stream, tenant_id)
        if existing is not None:
            # Sticky: whatever the weights say now, the first variant seen is kept.
            return self._assignment(spec, existing.data["variant"], first=False)
        if not spec.targeting.admits(tenant_id, plan, attributes or {}):
            return None
        if not in_traffic(spec.hash_salt, subject, spec.traffic):
            return None
        variant = spec.variants[
            pick_variant(spec.hash_salt, subject, [v.weight for v in spec.variants])
        ]
        event = NewEvent(
            EXPOSURE,
            {"experiment": key, "variant": variant.key, "subject": subject, "at": self._clock()},
            id=uuid.uuid5(_EXPOSURE_IDS, stream),
        )
        try:
            await self.store.append(stream, event, expected_version=NO_STREAM, tenant_id=tenant_id)
        except (ConcurrencyError, DuplicateEventId):
            # Another request exposed this subject first: its variant stands.
            existing = await self._exposure(stream, tenant_id)
            if existing is None:
                raise
            return self._assignment(spec, existing.data["variant"], first=False)
        return self._assignment(spec, variant.key, first=True)

    async def _exposure(self, stream: str, tenant_id: str) -> RecordedEvent | None:
        async for event in self.store.read_stream(stream, limit=1, tenant_id=tenant_id):
            return event
        return None

    @staticmethod
    def _assignment(spec: ExperimentSpec, variant_key: str, *, first: bool) -> Assignment:
        payload = next((v.payload for v in spec.variants if v.key == variant_key), {})
        return Assignment(spec.key, variant_key, dict(payload), first)
