"""The W3C trace context of the work in progress: the trace a request, command or job is in.

It sits here, beside the principal of the work in progress, so that every layer that
starts or records work can read it without importing the observability service: the
domain stamps it on the events it encodes, the job queue on the jobs it enqueues, and
a worker running a job sets it back from the job (``continue_trace``). Spans (and
OpenTelemetry) stay in ``headwater.observability._tracing``; this module only holds
the ids and the context variable they travel in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

# version-traceid-parentid-flags; version ff is forbidden, all-zero ids are invalid.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16

#: The metadata keys an event (or a realtime frame, which carries the event's
#: metadata) gets while a trace is current.
TRACE_ID_KEY: Final = "trace_id"
TRACEPARENT_KEY: Final = "traceparent"


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
        if not header or not isinstance(header, str):
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


current: ContextVar[TraceContext | None] = ContextVar("headwater.trace", default=None)


def current_trace() -> TraceContext | None:
    """The span of the work in progress (a request's, a job's), or None outside one."""
    return current.get()


@contextmanager
def use_trace(ctx: TraceContext | None) -> Iterator[TraceContext | None]:
    """Make ``ctx`` the current trace for the block (None: no trace)."""
    token = current.set(ctx)
    try:
        yield ctx
    finally:
        current.reset(token)


def continue_trace(traceparent: str | None) -> TraceContext:
    """A new span under the one ``traceparent`` names, or a new trace when it names none."""
    parent = TraceContext.parse(traceparent)
    return parent.child() if parent is not None else TraceContext.new()


def stamp(metadata: dict[str, Any]) -> dict[str, Any]:
    """Add the current trace to ``metadata`` (an event's), unless it names one already."""
    ctx = current.get()
    if ctx is not None and TRACEPARENT_KEY not in metadata:
        metadata[TRACE_ID_KEY] = ctx.trace_id
        metadata[TRACEPARENT_KEY] = ctx.header()
    return metadata
