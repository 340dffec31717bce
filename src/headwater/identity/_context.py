"""The principal (hence the tenant) of the work in progress, in a context variable.

Set once per request by the authentication middleware, and by the realtime endpoints
per connection, so code far below a route (read-model queries, caches, jobs started
from a request) can ask for the tenant without it being passed by hand, and cannot
be handed another one by a client. Outside any request it is ``ANONYMOUS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from headwater.identity._principal import ANONYMOUS, Principal

_principal: ContextVar[Principal] = ContextVar("headwater.principal", default=ANONYMOUS)


def current_principal() -> Principal:
    return _principal.get()


def current_tenant() -> str | None:
    return _principal.get().tenant_id


def require_tenant() -> str:
    """The current tenant, or ``Forbidden`` when the work has none."""
    return _principal.get().require_tenant()


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Run a block as ``principal``; the previous one is restored after, even on error."""
    token = _principal.set(principal)
    try:
        yield principal
    finally:
        _principal.reset(token)
