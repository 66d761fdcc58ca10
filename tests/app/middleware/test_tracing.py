"""The API server's spans in-process: the request, the API function, streams, sampling, the access log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from app import Service
from app.config.schema import TiffinConfig
from app.io import Text
from app.server.application import ServiceApp, build_app
from runners import tracing

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def make_app(exporter: InMemorySpanExporter, **options: Any) -> ServiceApp:
    svc = Service("traced")

    @svc.api(input=Text(), output=Text())
    def echo(text: str) -> str:
        with tracing.span("inside echo"):
            return text

    @svc.api(input=Text(), output=Text())
    def tokens(text: str) -> Iterator[str]:
        for word in text.split():
            with tracing.span(f"token {word}"):
                yield word

    @svc.api(input=Text(), output=Text())
    def broken(text: str) -> str:
        raise RuntimeError("no")

    config = TiffinConfig.model_validate({"tracing": {"enabled": True, **options}, "logging": {"level": "INFO"}})
    return build_app(svc, config, span_exporter=exporter)


def spans_by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_the_request_and_the_api_are_spans_under_the_callers_traceparent(caplog) -> None:
    caplog.set_level(logging.INFO, logger="tiffin.access")
    exporter = InMemorySpanExporter()
    with TestClient(make_app(exporter), raise_server_exceptions=False) as client:
        response = client.post(
            "/echo", content="hi", headers={"content-type": "text/plain", "traceparent": f"00-{TRACE}-{PARENT}-01"}
        )
        assert response.text == "hi"
        assert client.post("/broken", content="x", headers={"content-type": "text/plain"}).status_code == 500
        tracing.flush()
        spans = spans_by_name(exporter)
    server, api, inner = spans["POST /echo"], spans["api echo"], spans["inside echo"]
    assert f"{server.context.trace_id:032x}" == TRACE and f"{server.parent.span_id:016x}" == PARENT
    assert api.parent.span_id == server.context.span_id and inner.parent.span_id == api.context.span_id
    assert server.attributes["http.route"] == "/echo" and server.attributes["http.response.status_code"] == 200
    assert server.resource.attributes["service.name"] == "traced"
    assert response.headers["traceparent"] == f"00-{TRACE}-{server.context.span_id:016x}-01"  # sent back
    assert spans["POST /broken"].status.status_code.name == "ERROR"
    assert spans["api broken"].status.status_code.name == "ERROR"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tiffin.access"]
    assert lines[0]["trace_id"] == TRACE and len(lines[1]["trace_id"]) == 32


def test_a_streams_api_span_lasts_until_its_last_chunk() -> None:
    exporter = InMemorySpanExporter()
    with TestClient(make_app(exporter)) as client:
        assert client.post("/tokens", content="a b", headers={"content-type": "text/plain"}).text == "ab"
        tracing.flush()
        spans = spans_by_name(exporter)
    api = spans["api tokens"]
    for word in ("a", "b"):
        assert spans[f"token {word}"].parent.span_id == api.context.span_id
        assert spans[f"token {word}"].end_time <= api.end_time
    assert api.end_time <= spans["POST /tokens"].end_time


def test_an_unsampled_request_records_nothing_but_still_carries_its_trace() -> None:
    exporter = InMemorySpanExporter()
    with TestClient(make_app(exporter, sample_rate=0)) as client:
        response = client.post("/echo", content="x", headers={"content-type": "text/plain"})
        flags = int(response.headers["traceparent"].rsplit("-", 1)[1], 16)
        assert flags & 1 == 0  # not sampled
        tracing.flush()
    assert exporter.get_finished_spans() == ()
