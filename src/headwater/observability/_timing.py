"""``timed()``: a histogram in ``/metrics`` and a span, for a block or a function of app code.

::

    with timed("pricing.quote", plan="pro"):
        quote = await price(cart)

    @timed("reports.render", kind="pdf")
    async def render(...): ...

Each name is one Prometheus histogram, ``headwater_timed_<name>_seconds`` (dots and
dashes become underscores), whose label names are the keywords of its first use; a
later use with other keywords is a programming error and raises ``ValueError``, as
prometheus-client would. A failing block is still recorded, with ``outcome="error"``.

Where it records: the metrics and tracer of the running ``ObservabilityModule``
(``activate`` is called at its start). Before any starts (a script, a unit test) it
records into a registry of its own (``Timings.default()``), so app code never has to
ask whether observability is on.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final, ParamSpec, TypeVar, overload

from prometheus_client import CollectorRegistry, Histogram

from headwater.observability._tracing import Tracer

P = ParamSpec("P")
R = TypeVar("R")

#: Seconds; app timings run from a cached lookup to a long report.
TIMED_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,100}$")
_LABEL: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Timings:
    """The ``timed()`` histograms of one registry, created on first use of each name."""

    def __init__(self, registry: CollectorRegistry, tracer: Tracer | None = None) -> None:
        self.registry = registry
        self.tracer = tracer or Tracer()
        self._histograms: dict[str, tuple[Histogram, tuple[str, ...]]] = {}

    _default: Timings | None = None
    _active: Timings | None = None

    @classmethod
    def default(cls) -> Timings:
        if cls._default is None:
            cls._default = Timings(CollectorRegistry(auto_describe=True))
        return cls._default

    @classmethod
    def current(cls) -> Timings:
        return cls._active if cls._active is not None else cls.default()

    def activate(self) -> None:
        """Make ``timed()`` record here (the observability module's start)."""
        Timings._active = self

    def deactivate(self) -> None:
        if Timings._active is self:
            Timings._active = None

    def histogram(self, name: str, label_names: tuple[str, ...]) -> Histogram:
        found = self._histograms.get(name)
        if found is None:
            metric = "headwater_timed_" + re.sub(r"[.\-]", "_", name) + "_seconds"
            histogram = Histogram(
                metric,
                f"Seconds spent in timed({name!r}).",
                [*label_names, "outcome"],
                buckets=TIMED_BUCKETS,
                registry=self.registry,
            )
            found = self._histograms[name] = (histogram, label_names)
        histogram, known = found
        if known != label_names:
            raise ValueError(
                f"timed({name!r}) was first used with labels {list(known)}, not {list(label_names)}"
            )
        return histogram

    @contextmanager
    def measure(self, name: str, labels: dict[str, str]) -> Iterator[None]:
        label_names = tuple(sorted(labels))
        histogram = self.histogram(name, label_names)
        outcome = "ok"
        started = time.perf_counter()
        with self.tracer.span(name, {f"timed.{k}": v for k, v in labels.items()}) as span:
            try:
                yield
            except BaseException as exc:
                outcome = "error"
                span.record_error(exc)
                raise
            finally:
                seconds = time.perf_counter() - started
                span.set_attribute("timed.seconds", seconds)
                values = [labels[k] for k in label_names]
                histogram.labels(*values, outcome).observe(seconds)


class timed:
    """Time a block (``with``/``async with``) or every call of a function (decorator)."""

    def __init__(self, name: str, **labels: object) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"timed() needs a name of letters, digits, '.', '_', '-': {name!r}")
        for key in labels:
            if not _LABEL.match(key) or key == "outcome":
                raise ValueError(f"timed() label {key!r} is not a usable label name")
        self.name = name
        self.labels = {key: str(value) for key, value in labels.items()}
        # Open blocks, per context: one ``timed`` object may be entered by several
        # tasks at once (a module-level timer), each task closing its own block.
        self._blocks: ContextVar[tuple[Any, ...]] = ContextVar(f"timed {name}", default=())

    def _open(self) -> None:
        block = Timings.current().measure(self.name, self.labels)
        block.__enter__()
        self._blocks.set((*self._blocks.get(), block))

    def _close(self, exc: BaseException | None) -> bool | None:
        *rest, block = self._blocks.get()
        self._blocks.set(tuple(rest))
        if exc is None:
            return block.__exit__(None, None, None)  # type: ignore[no-any-return]
        return block.__exit__(type(exc), exc, exc.__traceback__)  # type: ignore[no-any-return]

    def __enter__(self) -> timed:
        self._open()
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool | None:
        return self._close(exc)

    async def __aenter__(self) -> timed:
        self._open()
        return self

    async def __aexit__(self, kind: object, exc: BaseException | None, tb: object) -> bool | None:
        return self._close(exc)

    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...
    @overload
    def __call__(self, fn: Any) -> Any: ...

    def __call__(self, fn: Any) -> Any:
        name, labels = self.name, self.labels
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with Timings.current().measure(name, labels):
                    return await fn(*args, **kwargs)

            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Timings.current().measure(name, labels):
                return fn(*args, **kwargs)

        return run
