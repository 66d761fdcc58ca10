"""Distributed tracing with OpenTelemetry: off unless a process installs it, and then nearly free.

    tracing.install(options, "iris_classifier")   # once per process (an API worker, a sidecar)
    with tracing.span("runner iris_clf.predict", kind="client"):
        ...                                        # a child of the current span
    tracing.inject(headers)                        # traceparent/tracestate for the next hop
    tracing.shutdown()                             # flushes what is left

While tracing is off every function here returns at once (``None``, or a context manager that
does nothing) and OpenTelemetry is never imported: the SDK lives in ``runners.tracing.otel``,
imported by ``install``. Spans are the SDK's; here they are typed ``Any`` so that callers need
no OpenTelemetry import of their own.

Spans of one request, by process::

    API worker   POST /route (server) → api NAME → runner R.M (client, one per caller)
                 [→ runner R.M coalesced (client, linked to every caller merged into it)]
    sidecar      POST /M (server) → queue R.M (the wait) ; batch R.M (links to each request) → model R.M
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runners.tracing.options import TracingOptions

if TYPE_CHECKING:
    from runners.tracing.otel import Otel

__all__ = [
    "TracingOptions",
    "current_span",
    "end",
    "fail",
    "flush",
    "install",
    "interval",
    "is_on",
    "link",
    "server_span",
    "shutdown",
    "span",
    "start",
    "start_server",
    "trace_id",
    "traceparent",
    "inject",
    "use",
]

_otel: Otel | None = None
_NULL = contextlib.nullcontext(None)


def install(options: TracingOptions, service_name: str, *, role: str = "api", exporter: Any = None) -> bool:
    """Start tracing in this process as ``service_name``, whose ``role`` is ``api`` or ``runner``.

    ``exporter``: an SDK ``SpanExporter`` in place of the configured one (tests). False when disabled.
    """
    global _otel
    if not options.enabled:
        return False
    from runners.tracing.otel import Otel

    if _otel is not None:
        _otel.shutdown()
    _otel = Otel(options, service_name, role, exporter)
    return True


def shutdown() -> None:
    global _otel
    otel, _otel = _otel, None
    if otel is not None:
        otel.shutdown()


def flush() -> None:
    if _otel is not None:
        _otel.flush()


def is_on() -> bool:
    return _otel is not None


def span(
    name: str,
    *,
    kind: str = "internal",
    parent: Any = None,
    links: Iterable[Any] = (),
    attributes: Mapping[str, Any] | None = None,
) -> contextlib.AbstractContextManager[Any]:
    """A span made current for the block, a child of ``parent`` (a span) or of the current one."""
    otel = _otel
    if otel is None:
        return _NULL
    return otel.use(otel.start(name, kind=kind, parent=parent, links=links, attributes=attributes), end=True)


def start(
    name: str,
    *,
    kind: str = "internal",
    parent: Any = None,
    links: Iterable[Any] = (),
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """A span that is not made current; ``end`` it. ``None`` while tracing is off."""
    otel = _otel
    if otel is None:
        return None
    return otel.start(name, kind=kind, parent=parent, links=links, attributes=attributes)


def use(span: Any, *, end: bool = False) -> contextlib.AbstractContextManager[Any]:
    """Make ``span`` (from ``start``) current for the block; an exception marks it failed."""
    otel = _otel
    if otel is None or span is None:
        return _NULL
    return otel.use(span, end=end)


def end(span: Any, *, error: str | None = None) -> None:
    if span is None:
        return
    if error is not None:
        fail(span, error)
    span.end()


def fail(span: Any, message: str) -> None:
    """Mark ``span`` as failed, with ``message`` as its status description."""
    if span is not None and _otel is not None:
        _otel.fail(span, message)


def interval(
    name: str, *, parent: Any, started: float, ended: float, attributes: Mapping[str, Any] | None = None
) -> None:
    """A finished span for a time already spent (``time.monotonic`` readings), e.g. a queue wait."""
    otel = _otel
    if otel is None:
        return
    now_ns, now = time.time_ns(), time.monotonic()
    begin = now_ns - int((now - started) * 1e9)
    finish = now_ns - int((now - ended) * 1e9)
    otel.start(name, parent=parent, attributes=attributes, start_time=begin).end(end_time=finish)


def current_span() -> Any:
    """The current span, to link to or to parent a later span on; ``None`` while off or outside any."""
    otel = _otel
    return None if otel is None else otel.current()


def link(span: Any, to: Any) -> None:
    """Link ``span`` to ``to`` after both started (a caller to the coalesced hop it went out in)."""
    if _otel is not None:
        _otel.link(span, to)


@contextlib.contextmanager
def server_span(
    name: str, headers: Sequence[tuple[bytes, bytes]], attributes: Mapping[str, Any] | None = None
) -> Iterator[Any]:
    """A server span, the child of the caller's ``traceparent`` if it sent one, current for the block."""
    otel = _otel
    if otel is None:
        yield None
        return
    span = otel.start(name, kind="server", parent=otel.extract(headers), attributes=attributes)
    with otel.use(span, end=True):
        yield span


def start_server(name: str, headers: Sequence[tuple[bytes, bytes]], attributes: Mapping[str, Any] | None = None) -> Any:
    """``server_span``'s span, not made current (a stream's, which outlives the call that opened it)."""
    otel = _otel
    if otel is None:
        return None
    return otel.start(name, kind="server", parent=otel.extract(headers), attributes=attributes)


def inject(headers: dict[str, str], span: Any = None) -> None:
    """Add ``traceparent`` (and ``tracestate``) of ``span``, else of the current span, to ``headers``."""
    if _otel is not None:
        _otel.inject(headers, span)


def traceparent(span: Any) -> list[tuple[bytes, bytes]]:
    """``span``'s W3C headers, as ASGI response headers (sent back to the caller)."""
    headers: dict[str, str] = {}
    inject(headers, span)
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def trace_id(span: Any) -> str | None:
    if span is None:
        return None
    context = span.get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
