"""Pure ASGI middleware: a server span, log context and latency metrics for each request.

Latency is labelled by route *template* (``/guests/{guest_id}``), never the raw path:
one label value per route keeps the series count bounded whatever clients send. The
template is read from the route the router matched (FastAPI leaves it in
``scope["route"]``); a request answered before routing (a 429 from the rate limiter,
a 413) is matched against the app's route templates here, and anything else is
``<unmatched>``. The tier comes from the principal the authentication middleware put
in ``scope["state"]``, read when the response is done, so this middleware may sit
outside authentication.

A streamed response (``text/event-stream``, or a body sent in more than one part: an
export) is not a request's latency: it is counted in the stream metrics (how many,
time to first byte, time open) and kept out of the latency histogram and the recent
window the alerts and the dashboard read.
"""

from __future__ import annotations

import re
import time
import weakref
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.identity._principal import Principal
from headwater.observability._logging import bound, get_logger
from headwater.observability._metrics import Metrics
from headwater.observability._tracing import TraceContext, Tracer

UNMATCHED = "<unmatched>"
_log = get_logger("headwater.http")


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    if app is None:
        return UNMATCHED
    table = _tables.get(app)
    if table is None:
        table = _tables[app] = _template_table(app)
    method, request_path = scope["method"], scope["path"]
    for methods, regex, template in table:
        if method in methods and regex.match(request_path):
            return template
    return UNMATCHED


# Per app, built on first use: (methods, compiled path, template). From the app's
# OpenAPI paths rather than its router, because recent FastAPI nests included
# routers in objects that only resolve their routes while handling a request.
_Table = list[tuple[frozenset[str], re.Pattern[str], str]]
_tables: weakref.WeakKeyDictionary[Any, _Table] = weakref.WeakKeyDictionary()


def _template_table(app: Any) -> _Table:
    table: _Table = []
    try:
        paths = app.openapi().get("paths", {})
    except Exception:  # no OpenAPI (a bare Starlette app) or a schema that fails to build
        paths = {}
    for template, operations in paths.items():
        regex, _, _ = compile_path(template)
        table.append((frozenset(m.upper() for m in operations), regex, template))
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        template = getattr(candidate, "path", None)
        methods = getattr(candidate, "methods", None)
        if isinstance(template, str) and methods and template not in paths:
            table.append((frozenset(methods), compile_path(template)[0], template))
    return table


def _is_event_stream(headers: Any) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return bytes(value).lower().startswith(b"text/event-stream")
    return False


def _principal(scope: Scope) -> Principal | None:
    found = (scope.get("state") or {}).get("principal")
    return found if isinstance(found, Principal) else None


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        tracer: Tracer | None = None,
        *,
        access_log: bool = True,
        skip_paths: tuple[str, ...] = ("/metrics", "/healthz", "/livez", "/readyz"),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer or Tracer()
        self.access_log = access_log
        self.skip_paths = skip_paths
        # Label children by their label values: ``labels()`` validates, joins and locks
        # on every call (three per request, measurable on a cached GET); the values are
        # bounded (route templates, methods, statuses, tiers), and so is this.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_parent = headers.get(b"traceparent")
        parent = TraceContext.parse(raw_parent.decode("latin-1") if raw_parent else None)
        method: str = scope["method"]
        state = scope.setdefault("state", {})
        request_id = state.get("request_id")
        status = 500
        sent = 0
        streamed = False
        first_byte: float | None = None
        started = time.perf_counter()
        in_progress = self._child(self.metrics.http_in_progress, method)
        in_progress.inc()
        with self.tracer.server_span(f"HTTP {method}", parent) as span:
            state["trace_id"] = span.context.trace_id
            traceparent = span.context.header().encode()

            async def send_wrapper(message: Message) -> None:
                nonlocal status, sent, streamed, first_byte
                if message["type"] == "http.response.start":
                    status = message["status"]
                    streamed = _is_event_stream(message.get("headers", []))
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"traceparent", traceparent),
                    ]
                elif message["type"] == "http.response.body":
                    sent += len(message.get("body", b""))
                    if first_byte is None:
                        first_byte = time.perf_counter() - started
                        streamed = streamed or bool(message.get("more_body"))
                await send(message)

            try:
                with bound(request_id=request_id, trace_id=span.context.trace_id):
                    await self.app(scope, receive, send_wrapper)
            except BaseException as exc:
                span.record_error(exc)
                raise
            finally:
                in_progress.dec()
                seconds = time.perf_counter() - started
                if streamed:
                    self._record_stream(scope, method, status, first_byte, seconds)
                self._record(scope, span, method, status, sent, seconds, streamed=streamed)

    def _record_stream(
        self, scope: Scope, method: str, status: int, first_byte: float | None, seconds: float
    ) -> None:
        route = route_template(scope)
        self.metrics.http_streams.labels(route, method, str(status)).inc()
        self.metrics.http_stream_first_byte.labels(route).observe(first_byte or seconds)
        self.metrics.http_stream_duration.labels(route).observe(seconds)

    def _record(
        self,
        scope: Scope,
        span: Any,
        method: str,
        status: int,
        sent: int,
        seconds: float,
        *,
        streamed: bool = False,
    ) -> None:
        route = route_template(scope)
        principal = _principal(scope)
        tier = principal.tier if principal is not None else "anonymous"
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if not streamed:
            self._child(self.metrics.http_duration, route, method, str(status), tier).observe(
                seconds
            )
        self._child(self.metrics.http_response_bytes, route).inc(sent)
        if scope["path"].startswith(self.skip_paths):
            return
        if not streamed:
            self.metrics.recent.add(seconds, status)
        if not self.access_log:
            return
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "request_id": (scope.get("state") or {}).get("request_id"),
            "trace_id": span.context.trace_id,
            "tier": tier,
        }
        if principal is not None and principal.is_authenticated:
            fields["tenant"] = principal.tenant_id
            fields["actor"] = principal.subject
        log = _log.error if status >= 500 else _log.info
        log("http.request", **fields)
