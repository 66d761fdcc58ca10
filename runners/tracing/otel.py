"""The OpenTelemetry SDK behind ``runners.tracing``: imported only when tracing is enabled.

A provider of our own per process (never the global one): a parent-based ratio sampler, a
batch span processor and the chosen exporter; W3C trace context in and out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from runners.tracing.options import TracingOptions

KINDS = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
}


def _exporter(options: TracingOptions) -> SpanExporter:
    if options.exporter == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=options.traces_url)


class Otel:
    def __init__(
        self, options: TracingOptions, service_name: str, role: str, exporter: SpanExporter | None = None
    ) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service_name, "tiffin.role": role}),
            sampler=ParentBased(TraceIdRatioBased(options.sample_rate)),
        )
        self.provider.add_span_processor(BatchSpanProcessor(exporter or _exporter(options)))
        self.tracer = self.provider.get_tracer("tiffin")
        self.propagator = TraceContextTextMapPropagator()

    def shutdown(self) -> None:
        self.provider.shutdown()

    def flush(self, timeout_millis: int = 30_000) -> bool:
        return self.provider.force_flush(timeout_millis)

    # -- spans ---------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        *,
        kind: str = "internal",
        parent: Span | Context | None = None,
        links: Iterable[Span | None] = (),
        attributes: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Span:
        context = trace.set_span_in_context(parent) if isinstance(parent, Span) else parent
        linked = [Link(s.get_span_context()) for s in links if s is not None and s.get_span_context().is_valid]
        return self.tracer.start_span(
            name, context=context, kind=KINDS[kind], attributes=attributes, links=linked, start_time=start_time
        )

    def use(self, span: Span, *, end: bool) -> AbstractContextManager[Span]:
        return trace.use_span(span, end_on_exit=end, record_exception=True, set_status_on_exception=True)

    def current(self) -> Span | None:
        span = trace.get_current_span()
        return span if span.get_span_context().is_valid else None

    def link(self, span: Span | None, to: Span | None) -> None:
        if span is not None and to is not None and span.is_recording():
            span.add_link(to.get_span_context())

    def fail(self, span: Span, message: str) -> None:
        span.set_status(Status(StatusCode.ERROR, message))
        span.set_attribute("error.type", message)

    # -- W3C trace context ---------------------------------------------------------------------

    def extract(self, headers: Sequence[tuple[bytes, bytes]]) -> Context | None:
        carrier = {}
        for name, value in headers:
            if name in (b"traceparent", b"tracestate"):
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        return self.propagator.extract(carrier) if carrier else None

    def inject(self, headers: dict[str, str], span: Span | None = None) -> None:
        context = trace.set_span_in_context(span) if span is not None else None
        self.propagator.inject(headers, context=context)
