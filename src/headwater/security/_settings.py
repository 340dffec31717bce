"""A tenant's settings (seed 004 ``getTenantConfig``): plan, limits, enabled features.

Stored as ``hw.tenant.settings_changed`` events on the tenant's own stream, each
carrying the whole new settings and the keys it changed, and projected inline into
``hw_tenant_settings``, so a read right after an update sees it.

Settings follow seed 003's ``system.setting`` conflict strategy
(``headwater.domain.SYSTEM_SETTING``): only admins write them (a platform admin
everything, a tenant admin its own features), two concurrent writes merge key by
key with the last write winning a key both changed, and every write is audited, the
event itself recording who changed what (``changed``, with the actor in its
metadata).

Apps read limits by their own keys (``formease.free.forms``...) and keep their
built-in values as defaults for keys a tenant's settings do not name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from headwater.domain import SYSTEM_SETTING, merge_states
from headwater.errors import ConcurrencyError, InvalidInput
from headwater.eventstore import NO_STREAM, EventStore
from headwater.security import _events as ev
from headwater.security._schema import fetch_one

#: The plan of a tenant whose settings were never written.
DEFAULT_PLAN: Final = "standard"
MAX_KEYS: Final = 200
_KEY: Final = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
_MAX_LIMIT: Final = 2**53


@dataclass(frozen=True, slots=True)
class TenantSettings:
    tenant_id: str
    plan: str = DEFAULT_PLAN
    #: Named limits; ``None`` means unlimited.
    limits: Mapping[str, int | None] = field(default_factory=dict)
    features: frozenset[str] = frozenset()
    updated_by: str | None = None
    #: Microseconds since the epoch; 0 when never written.
    updated_at: int = 0
    version: int = 0

    def limit(self, key: str, default: int | None) -> int | None:
        """The limit ``key`` (``None``: unlimited), or ``default`` when not set."""
        return self.limits.get(key, default)

    def enabled(self, feature: str) -> bool:
        return feature in self.features

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "plan": self.plan,
            "limits": dict(self.limits),
            "features": sorted(self.features),
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
            "version": self.version,
        }


def check_limits(limits: Mapping[str, Any]) -> dict[str, int | None]:
    checked: dict[str, int | None] = {}
    for key, value in limits.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidInput(f"{str(key)[:100]!r} is not a limit name", field="limits")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_LIMIT
        ):
            raise InvalidInput(f"limit {key!r} must be a whole number ≥ 0 or null", field=key)
        checked[key] = value
    return checked


def check_features(features: Sequence[Any]) -> list[str]:
    for name in features:
        if not isinstance(name, str) or not _KEY.match(name):
            raise InvalidInput(f"{str(name)[:100]!r} is not a feature name", field="features")
    return sorted(set(features))


class TenantSettingsStore:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def get(self, tenant_id: str) -> TenantSettings:
        """The tenant's settings (defaults when none were ever written)."""
        row = await fetch_one(
            self.store,
            "SELECT plan, limits, features, updated_by, updated_at, version "
            "FROM hw_tenant_settings WHERE tenant_id = ?",
            (tenant_id,),
        )
        if row is None:
            return TenantSettings(tenant_id)
        return TenantSettings(
            tenant_id=tenant_id,
            plan=row[0],
            limits=json.loads(row[1]),
            features=frozenset(json.loads(row[2])),
            updated_by=row[3],
            updated_at=int(row[4]),
            version=int(row[5]),
        )

    async def update(
        self,
        tenant_id: str,
        *,
        plan: str | None = None,
        limits: Mapping[str, int | None] | None = None,
        features: Sequence[str] | None = None,
        metadata: Mapping[str, object],
    ) -> TenantSettings:
        """Apply the given parts (``limits`` key by key) to the settings.

        The append is checked against the version read; when another admin wrote
        meanwhile, the two writes are merged three-way under ``SYSTEM_SETTING`` (keys
        changed on one side kept, this write winning a key both changed) and written
        again. The caller has checked who may change which part; the tenant exists.
        """
        stream = ev.tenant_stream(tenant_id)
        for _ in range(_MAX_ATTEMPTS):
            # The row read between two equal stream versions is the state at that
            # version (the row commits with its event): the append's expected version.
            version = await self.store.stream_version(stream, tenant_id=tenant_id)
            current = await self.get(tenant_id)
            if await self.store.stream_version(stream, tenant_id=tenant_id) != version:
                continue
            base = _state(current)
            mine = _apply(base, plan, limits, features)
            report = merge_states(base, mine, base, SYSTEM_SETTING)
            changed = _changed(base, report.merged)
            if not changed:
                return current
            try:
                await self.store.append(
                    stream,
                    ev.event(
                        ev.TENANT_SETTINGS_CHANGED, {**report.merged, "changed": changed}, metadata
                    ),
                    expected_version=NO_STREAM if version is None else version,
                    tenant_id=tenant_id,
                )
            except ConcurrencyError:
                theirs = _state(await self.get(tenant_id))
                merged = merge_states(base, mine, theirs, SYSTEM_SETTING).merged
                plan, features = merged["plan"], merged["features"]
                limits = merged["limits"]
                continue
            return await self.get(tenant_id)
        raise ConcurrencyError(stream, expected=None, actual=None)


#: Each round of concurrent writers lets one through, so this bounds how many admins
#: may write one tenant's settings at the same instant before one gets a 409.
_MAX_ATTEMPTS: Final = 32


def _state(settings: TenantSettings) -> dict[str, Any]:
    return {
        "plan": settings.plan,
        "limits": dict(settings.limits),
        "features": sorted(settings.features),
    }


def _apply(
    base: Mapping[str, Any],
    plan: str | None,
    limits: Mapping[str, int | None] | None,
    features: Sequence[str] | None,
) -> dict[str, Any]:
    state = {"plan": base["plan"], "limits": dict(base["limits"]), "features": base["features"]}
    if plan is not None:
        if not _KEY.match(plan):
            raise InvalidInput(f"{plan[:100]!r} is not a plan name", field="plan")
        state["plan"] = plan
    if limits is not None:
        state["limits"].update(check_limits(limits))
    if features is not None:
        state["features"] = check_features(features)
    if len(state["limits"]) > MAX_KEYS or len(state["features"]) > MAX_KEYS:
        raise InvalidInput(f"at most {MAX_KEYS} limits and {MAX_KEYS} features")
    return state


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What an audit reader needs: the paths this write changed."""
    changed = [k for k in ("plan", "features") if before[k] != after[k]]
    keys = sorted(set(before["limits"]) | set(after["limits"]))
    gone = object()
    changed += [
        f"limits.{k}" for k in keys if before["limits"].get(k, gone) != after["limits"].get(k, gone)
    ]
    return changed
