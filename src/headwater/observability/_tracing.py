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
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# version-traceid-parentid-flags; version ff is forbidden, all-zero ids are invalid.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        """The context a caller sent, or None when the header is absent or invalid.

        An invalid header starts a new trace rather than failing the request: the
        spec says to ignore what cannot be parsed.
        """
        if not header:
            return None
        match = _TRACEPARENT.match(header.strip().lower())
        if match is None:
            return None
        version, trace_id, span_id, flags, rest = match.groups()
        if version == "ff" or (version == "00" and rest):
            return None
        if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
            return None
        return cls(trace_id, span_id, bool(int(flags, 16) & 1))

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    def child(self) -> TraceContext:
        """The same trace, a new span under this one."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.sampled)

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


_current: ContextVar[TraceContext | None] = ContextVar("headwater.trace", default=None)


def current_trace() -> TraceContext | None:
    """The span of the work in progress (set per request by the metrics middleware)."""
    return _current.get()


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
        if self._tracer is None:
            ctx = parent.child() if parent is not None else TraceContext.new()
            span = Span(ctx, dict(attributes))
            token = _current.set(ctx)
            try:
                yield span
            finally:
                _current.reset(token)
            return
        with self._otel_span(name, parent, attributes) as span:
            token = _current.set(span.context)
            try:
                yield span
            finally:
                _current.reset(token)

    @contextmanager
    def _otel_span(
        self, name: str, parent: TraceContext | None, attributes: Mapping[str, Any]
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
        kind = api.SpanKind.SERVER
        with self._tracer.start_as_current_span(
            name, context=context, kind=kind, attributes=dict(attributes)
        ) as otel_span:
            sc = otel_span.get_span_context()
            ctx = TraceContext(
                f"{sc.trace_id:032x}", f"{sc.span_id:016x}", bool(sc.trace_flags & 1)
            )
            if sc.trace_id == 0:  # a no-op tracer provider: keep our own ids
                ctx = parent.child() if parent is not None else TraceContext.new()
            yield Span(ctx, dict(attributes), otel=otel_span)
