"""A tenant's settings (seed 004 ``getTenantConfig``): plan, limits, enabled features.

Stored as ``hw.tenant.settings_changed`` events on the tenant's own stream, each
carrying the whole new settings and the keys it changed, and projected inline into
``hw_tenant_settings``, so a read right after an update sees it.

Settings follow seed 003's ``system.setting`` conflict strategy: only admins write
them (a platform admin everything, a tenant admin its own features), the last write
wins (appends take no expected version: a setting is a value, not a decision built
on what was there), and every write is audited, the event itself recording who
changed what (``changed``, with the actor in its metadata).

Apps read limits by their own keys (``formease.free.forms``...) and keep their
built-in values as defaults for keys a tenant's settings do not name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
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
        """Merge the given parts into the settings (``limits`` key by key), last write wins.

        The caller has checked who may change which part; the tenant must exist.
        """
        current = await self.get(tenant_id)
        new_limits = dict(current.limits)
        changed: list[str] = []
        if limits is not None:
            for key, value in check_limits(limits).items():
                if new_limits.get(key, ...) != value:
                    new_limits[key] = value
                    changed.append(f"limits.{key}")
        new_plan = current.plan
        if plan is not None:
            if not _KEY.match(plan):
                raise InvalidInput(f"{plan[:100]!r} is not a plan name", field="plan")
            if plan != current.plan:
                new_plan = plan
                changed.append("plan")
        new_features = sorted(current.features)
        if features is not None:
            checked = check_features(features)
            if checked != new_features:
                new_features = checked
                changed.append("features")
        if len(new_limits) > MAX_KEYS or len(new_features) > MAX_KEYS:
            raise InvalidInput(f"at most {MAX_KEYS} limits and {MAX_KEYS} features")
        if not changed:
            return current
        await self.store.append(
            ev.tenant_stream(tenant_id),
            ev.event(
                ev.TENANT_SETTINGS_CHANGED,
                {
                    "plan": new_plan,
                    "limits": new_limits,
                    "features": new_features,
                    "changed": changed,
                },
                metadata,
            ),
            tenant_id=tenant_id,
        )
        return await self.get(tenant_id)
