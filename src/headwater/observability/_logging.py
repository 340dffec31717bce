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
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Final, TextIO

import orjson
import structlog
from structlog.typing import Processor

from headwater.identity._context import current_principal
from headwater.observability._tracing import current_trace

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


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class _Sink:
    """Where structlog's own lines go: the configured stream, at the configured level.

    Module state rather than closures in the structlog configuration, so loggers can
    be cached (structlog's biggest saving) and still follow a reconfiguration.
    """

    stream: TextIO | None = None
    level: int = logging.INFO
    lock = threading.Lock()


_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


def _filter_by_level(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if _LEVELS.get(method, logging.INFO) < _Sink.level:
        raise structlog.DropEvent
    return event


class _LineLogger:
    """structlog's final logger: one rendered JSON line to the configured stream.

    Written here because structlog's own ``WriteLogger`` is bound to one file at
    creation; going through the standard library instead (a ``LogRecord``, a
    handler, a second processor chain) cost about 45 µs per line, most of an access
    log line's price. With no stream configured (after ``reset_logging``), lines go
    to the standard-library logger of the same name, as before configuration.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _write(self, level: int, line: str) -> None:
        stream = _Sink.stream
        if stream is None:
            logging.getLogger(self.name).log(level, line)
            return
        with _Sink.lock:
            stream.write(line + "\n")
            stream.flush()

    def debug(self, line: str) -> None:
        self._write(logging.DEBUG, line)

    def info(self, line: str) -> None:
        self._write(logging.INFO, line)

    def warning(self, line: str) -> None:
        self._write(logging.WARNING, line)

    def error(self, line: str) -> None:
        self._write(logging.ERROR, line)

    def critical(self, line: str) -> None:
        self._write(logging.CRITICAL, line)

    msg = info
    warn = warning
    exception = error
    fatal = critical


def _line_logger(name: str = "headwater", *_: Any) -> _LineLogger:
    return _LineLogger(name)


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
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    _Sink.stream, _Sink.level = out, numeric
    structlog.configure(
        processors=[
            _filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            # ``log.exception(...)`` means "with the current traceback": structlog's
            # generic logger passes the call on as it is, so without this the line
            # said "error" and dropped the stack (alert evaluation, sinks, plugins).
            structlog.dev.set_exc_info,
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=_line_logger,
        wrapper_class=structlog.BoundLogger,
        # Safe to cache: the stream and level are read from _Sink at each line.
        cache_logger_on_first_use=True,
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
    # Standard-library loggers under "headwater" (and, with stdlib=True, every other
    # one) share the format through this handler.
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
    _Sink.stream, _Sink.level = None, logging.NOTSET
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
