"""The core modules every Headwater app gets, and the order they start in."""

from __future__ import annotations

from collections.abc import Sequence

from headwater.admin import AdminModule
from headwater.cache._module import CacheModule
from headwater.http._security import SecurityModule
from headwater.jobs import JobsModule
from headwater.modules import Module
from headwater.observability import ObservabilityModule
from headwater.projections._module import ProjectionsModule
from headwater.ratelimit._config import FRAMEWORK_ENDPOINTS, RateLimitConfig
from headwater.ratelimit._module import RateLimitModule
from headwater.realtime import RealtimeModule
from headwater.settings import Settings


def core_modules(
    settings: Settings | None = None, contributors: Sequence[Module] = ()
) -> list[Module]:
    """What every Headwater app gets, outermost first.

    Security first, so everything inside it knows the principal; the cache, then the
    projections (whose commits invalidate it), before the apps, so their ``start``
    can use both; the rate limiter after security, so it
    counts by principal and tenant, with the endpoint limits the apps declare.
    """
    if settings is None:
        observability = ObservabilityModule()
    else:
        token = settings.metrics_token
        observability = ObservabilityModule(
            log_level=settings.log_level,
            alert_interval=settings.alert_interval or None,
            metrics_token=None if token is None else token.get_secret_value(),
        )
    # Observability first, so its middleware wraps authentication and the rate limiter
    # and records their refusals too.
    modules: list[Module] = [
        observability,
        SecurityModule(),
        CacheModule(),
        ProjectionsModule(),
        # After security: it authenticates connections with the security module's
        # authenticator and asks its channel registry.
        RealtimeModule(),
        # The durable queue: apps declare their handlers with ``declare_jobs``.
        JobsModule(),
    ]
    if settings is None or settings.rate_limits:
        endpoints = [*FRAMEWORK_ENDPOINTS, *(e for m in contributors for e in m.endpoint_limits())]
        modules.append(RateLimitModule(RateLimitConfig(endpoints=endpoints)))
    # Last: its routes and sampler read what the others registered.
    modules.append(AdminModule(contributors))
    return modules
