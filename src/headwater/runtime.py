"""The long-lived parts of a running Headwater node, built once at start-up.

Each service a core module provides is a typed attribute, ``None`` until the module
that owns it has started (and again after it stops): the security module sets
``security``, ``authenticator`` and ``channels``, the realtime module ``hub``, and so
on. Code that cannot work without one asks for it through an accessor
(``runtime.require_hub()``...) that names the missing module, instead of failing
later on ``None``.

Apps and plugins keep their own services in a registry keyed by type, so they are
typed too and never looked up by a string::

    runtime.provide(QrEventServices(...))      # in start
    runtime.get(QrEventServices)               # anywhere the runtime is at hand
    runtime.withdraw(QrEventServices)          # in stop

This module sits low in the layers: at run time it imports only the event store, the
settings and the cursor codec; the service types are named for the type checker only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from headwater.cursors import CursorCodec
from headwater.eventstore import EventStore
from headwater.settings import Settings

if TYPE_CHECKING:
    from headwater.cache._cache import Cache
    from headwater.identity._channels import ChannelRegistry
    from headwater.identity._principal import Authenticator
    from headwater.jobs._queue import JobQueue
    from headwater.observability._collectors import RuntimeCollector
    from headwater.observability._metrics import Metrics
    from headwater.projections._module import Projections
    from headwater.ratelimit._limiter import RateLimiter
    from headwater.realtime._hub import Hub
    from headwater.resilience._breaker import CircuitBreaker
    from headwater.security._service import Security

T = TypeVar("T")

#: Sends a notice (``system.alert``...) to the node's live admin feeds.
AlertPublisher = Callable[[str, dict[str, Any]], Awaitable[None]]


class ServiceMissing(LookupError):
    """A service was asked for that no started module provides (a wiring mistake)."""


def _required(value: T | None, what: str, module: str) -> T:
    if value is None:
        raise ServiceMissing(f"{what} is not available: add the {module} to the app")
    return value


@dataclass
class Runtime:
    settings: Settings
    store: EventStore
    cursors: CursorCodec
    #: The node's signing secret (cursors, tokens, sessions); never logged.
    secret: str = field(default="", repr=False)

    # --- core services, set by the module named beside each while it runs -------------
    #: Security module: accounts, sessions, keys.
    security: Security | None = None
    #: Security module: turns a request's credentials into a principal.
    authenticator: Authenticator | None = None
    #: Security module: who may follow which realtime channel.
    channels: ChannelRegistry | None = None
    #: Cache module.
    cache: Cache | None = None
    #: Projections module.
    projections: Projections | None = None
    #: Realtime module: WebSocket and SSE connections and their topics.
    hub: Hub | None = None
    #: Jobs module: the durable queue.
    jobs: JobQueue | None = None
    #: Rate-limit module.
    limiter: RateLimiter | None = None
    #: Observability module: this app's metrics registry and its runtime collector.
    metrics: Metrics | None = None
    collector: RuntimeCollector | None = None
    #: Admin module: alerts to every live admin feed.
    alerts: AlertPublisher | None = None
    #: Circuit breakers to report on ``/metrics`` beside the cache's and limiter's own.
    breakers: list[CircuitBreaker] = field(default_factory=list)

    #: Apps' and plugins' own services, by type (see ``provide``).
    _provided: dict[type[Any], Any] = field(default_factory=dict, repr=False)

    # --- accessors that name the missing module ---------------------------------------

    def require_security(self) -> Security:
        return _required(self.security, "the security service", "security module")

    def require_authenticator(self) -> Authenticator:
        return _required(self.authenticator, "an authenticator", "security module")

    def require_cache(self) -> Cache:
        return _required(self.cache, "the cache", "cache module")

    def require_projections(self) -> Projections:
        return _required(self.projections, "the projections service", "projections module")

    def require_hub(self) -> Hub:
        return _required(self.hub, "the realtime hub", "realtime module")

    def require_jobs(self) -> JobQueue:
        return _required(self.jobs, "the job queue", "jobs module")

    # --- apps' and plugins' services, keyed by type -------------------------------------

    def provide(self, service: object, *, kind: type[Any] | None = None) -> None:
        """Register ``service`` under its own type (or ``kind``, a base it implements)."""
        self._provided[kind or type(service)] = service

    def find(self, kind: type[T]) -> T | None:
        found = self._provided.get(kind)
        return found if isinstance(found, kind) else None

    def get(self, kind: type[T]) -> T:
        found = self.find(kind)
        if found is None:
            raise ServiceMissing(
                f"no {kind.__qualname__} is provided: the module that provides it "
                "is not in the app, or has not started"
            )
        return found

    def withdraw(self, kind: type[Any]) -> None:
        self._provided.pop(kind, None)
