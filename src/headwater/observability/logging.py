"""structlog, configured once per process for JSON lines with the request's context.

::

    configure_logging(level="INFO")            # at start-up (ObservabilityModule does it)
    log = get_logger(__name__)
    log.info("guest.invited", guest_id=gid)
    # {"event": "guest.invited", "guest_id": "...", "request_id": "...", "trace_id": "...",
    #  "tenant": "t-1", "actor": "u-1", "level": "info", "timestamp": "..."}

The request id and trace id are bound per request in context variables by the
metrics middleware. Tenant and actor are read at log time from the tenancy context
(set by the authentication middleware), not bound by us, because that middleware may
run inside ours: a value bound here before authentication would be wrong.
Standard-library loggers (uvicorn, the job workers) are routed through the same
processors, so a deployment gets one format on stdout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from headwater.observability.tracing import current_trace
from headwater.tenancy.context import current_principal

_HANDLER_NAME = "headwater.observability"


def add_request_context(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Trace id, tenant and actor of the work in progress, unless given explicitly."""
    trace = current_trace()
    if trace is not None:
        event.setdefault("trace_id", trace.trace_id)
        event.setdefault("span_id", trace.span_id)
    principal = current_principal()
    if principal.is_authenticated:
        event.setdefault("tenant", principal.tenant_id)
        event.setdefault("actor", principal.subject)
    return event


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_context,
    ]


#: Server loggers' (handlers, propagate, level) from before ``configure_logging``.
_saved_server_loggers: dict[str, tuple[list[logging.Handler], bool, int]] = {}


def configure_logging(
    level: str | int = "INFO",
    *,
    stream: TextIO | None = None,
    json: bool = True,
    stdlib: bool = True,
) -> None:
    """Configure structlog (process-wide) to write one JSON object per line to ``stream``.

    ``stdlib=True`` also sends the standard-library root logger's records through
    the same processors (replacing only a handler we installed before).
    """
    out = stream or sys.stdout
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: tests and embedding apps may reconfigure (e.g. a new stream).
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    # structlog's own loggers write through a dedicated stdlib logger, so that a
    # stdlib=False configuration does not touch the root logger at all.
    targets = [logging.getLogger("headwater")]
    if stdlib:
        targets.append(logging.getLogger())
    for target in targets:
        for old in [h for h in target.handlers if h.get_name() == _HANDLER_NAME]:
            target.removeHandler(old)
    own = logging.getLogger("headwater")
    own.addHandler(handler)
    own.setLevel(numeric)
    own.propagate = not stdlib
    if stdlib:
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(numeric)
        # uvicorn gives its loggers handlers of their own, in its own format; route
        # them to ours. Its access log is dropped: ``http.request`` says more (route
        # template, trace id, tenant) and one line per request is enough.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            server_logger = logging.getLogger(name)
            # Kept, so that reset_logging hands them back: the server logs its last
            # lines ("Application shutdown complete") after the app has stopped.
            _saved_server_loggers.setdefault(
                name, (list(server_logger.handlers), server_logger.propagate, server_logger.level)
            )
            server_logger.handlers.clear()
            server_logger.propagate = True
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def get_logger(name: str = "headwater") -> Any:
    """A structlog logger; names under ``headwater`` share the configured handler."""
    if not name.startswith("headwater"):
        name = f"headwater.{name}"
    return structlog.get_logger(name)


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind values to every log line of the block (request id, job id...)."""
    with structlog.contextvars.bound_contextvars(**values):
        yield


def reset_logging() -> None:
    """Undo ``configure_logging`` (at shutdown, in tests): remove our handlers and give
    the server's loggers back the handlers they had."""
    for target in (logging.getLogger("headwater"), logging.getLogger()):
        for old in [h for h in target.handlers if h.get_name() == _HANDLER_NAME]:
            target.removeHandler(old)
    logging.getLogger("headwater").propagate = True
    for name, (handlers, propagate, level) in _saved_server_loggers.items():
        server_logger = logging.getLogger(name)
        server_logger.handlers[:] = handlers
        server_logger.propagate = propagate
        server_logger.setLevel(level)
    _saved_server_loggers.clear()
