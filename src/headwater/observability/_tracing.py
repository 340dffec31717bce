"""W3C ``traceparent`` propagation, with OpenTelemetry spans when the extra is installed.

::

    parent = TraceContext.parse(headers.get("traceparent"))   # None if absent or malformed
    with tracer.server_span("GET /things/{id}", parent) as span:
        ...                                                    # span.context.trace_id
    response_headers["traceparent"] = span.context.header()

Parsing and emitting the header is done here by hand (it is one regular expression)
so that trace ids reach logs and responses on every install. Only when
``opentelemetry`` is importable, and a ``Tracer`` is built with ``otel=True``, are
real spans created and exported by whatever SDK the deployment configured; then the
ids come from the OpenTelemetry span, so logs and exported traces agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from headwater.identity._trace import TraceContext, current_trace
from headwater.identity._trace import current as _current

__all__ = ["Span", "TraceContext", "Tracer", "current_trace", "inject", "otel_available"]


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current ``traceparent`` to outbound headers (webhooks, service calls)."""
    ctx = _current.get()
    if ctx is not None:
        headers["traceparent"] = ctx.header()
    return headers


@dataclass
class Span:
    context: TraceContext
    attributes: dict[str, Any] = field(default_factory=dict)
    #: The OpenTelemetry span, when there is one.
    otel: Any = None

    def set_attribute(self, key: str, value: str | int | float | bool) -> None:
        self.attributes[key] = value
        if self.otel is not None:
            self.otel.set_attribute(key, value)

    def record_error(self, exc: BaseException) -> None:
        if self.otel is not None:
            self.otel.record_exception(exc)
            status = importlib.import_module("opentelemetry.trace")
            self.otel.set_status(status.Status(status.StatusCode.ERROR))


def otel_available() -> bool:
    try:
        importlib.import_module("opentelemetry.trace")
    except ImportError:
        return False
    return True


class Tracer:
    """Creates server spans; with ``otel=True`` (and the extra installed) real ones."""

    def __init__(
        self, *, otel: bool = False, provider: Any = None, name: str = "headwater"
    ) -> None:
        """``provider``: an OpenTelemetry ``TracerProvider``; the global one when None."""
        self.otel = (otel or provider is not None) and otel_available()
        self._api: Any = importlib.import_module("opentelemetry.trace") if self.otel else None
        self._tracer: Any = None
        if self._api is not None:
            source = provider if provider is not None else self._api.get_tracer_provider()
            self._tracer = source.get_tracer(name)

    @contextmanager
    def server_span(
        self,
        name: str,
        parent: TraceContext | None,
        attributes: Mapping[str, Any] = (),  # type: ignore[assignment]
    ) -> Iterator[Span]:
        """A span for work a caller asked for (a request, a job): under ``parent``,
        or the root of a new trace."""
        with self._span(name, parent, attributes, "SERVER") as span:
            yield span

    @contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, Any] = (),  # type: ignore[assignment]
        *,
        kind: str = "INTERNAL",
    ) -> Iterator[Span]:
        """A span under the current one (a new trace outside any), e.g. ``timed()``'s."""
        with self._span(name, _current.get(), attributes, kind) as span:
            yield span

    @contextmanager
    def _span(
        self, name: str, parent: TraceContext | None, attributes: Mapping[str, Any], kind: str
    ) -> Iterator[Span]:
        if self._tracer is None:
            ctx = parent.child() if parent is not None else TraceContext.new()
            span = Span(ctx, dict(attributes))
            token = _current.set(ctx)
            try:
                yield span
            finally:
                _current.reset(token)
            return
        with self._otel_span(name, parent, attributes, kind) as span:
            token = _current.set(span.context)
            try:
                yield span
            finally:
                _current.reset(token)

    @contextmanager
    def _otel_span(
        self, name: str, parent: TraceContext | None, attributes: Mapping[str, Any], kind: str
    ) -> Iterator[Span]:
        api = self._api
        context = None
        if parent is not None:
            remote = api.SpanContext(
                trace_id=int(parent.trace_id, 16),
                span_id=int(parent.span_id, 16),
                is_remote=True,
                trace_flags=api.TraceFlags(1 if parent.sampled else 0),
            )
            context = api.set_span_in_context(api.NonRecordingSpan(remote))
        with self._tracer.start_as_current_span(
            name, context=context, kind=getattr(api.SpanKind, kind), attributes=dict(attributes)
        ) as otel_span:
            sc = otel_span.get_span_context()
            ctx = TraceContext(
                f"{sc.trace_id:032x}", f"{sc.span_id:016x}", bool(sc.trace_flags & 1)
            )
            if sc.trace_id == 0:  # a no-op tracer provider: keep our own ids
                ctx = parent.child() if parent is not None else TraceContext.new()
            yield Span(ctx, dict(attributes), otel=otel_span)
