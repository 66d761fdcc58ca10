"""Tracing through real processes: ``tiffin serve`` exports to an OTLP/HTTP receiver made here."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from tests.otlp_receiver import Receiver, Span, receiving
from tests.procs import Proc, free_port_block, tiffin

SERVER, CLIENT = 2, 3  # OTLP span kinds

API_SPANS = {"POST /double", "api double", "runner doubler.double"}
RUNNER_SPANS = {"POST /double", "queue doubler.double", "batch doubler.double", "model doubler.double"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture(scope="module")
def served(receiver: Receiver) -> Iterator[tuple[str, Proc]]:
    port = free_port_block(2)
    proc = Proc(
        tiffin("serve", "--config", "tests/app/services/traced.yaml", "--host", "127.0.0.1", "--port", str(port)),
        env={"TIFFIN_TRACING_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"},
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=90)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.stop()


def complete(trace_id: str) -> object:
    def done(spans: list[Span]) -> bool:
        mine = [s for s in spans if s.trace_id == trace_id]
        api = {s.name for s in mine if s.service == "traced"}
        runner = {s.name for s in mine if s.service == "doubler"}
        return API_SPANS <= api and RUNNER_SPANS <= runner

    return done


def by_name(spans: list[Span], service: str) -> dict[str, Span]:
    return {s.name: s for s in spans if s.service == service}


def test_one_trace_per_request_continues_the_callers_traceparent_across_processes(served, receiver: Receiver) -> None:
    api, proc = served
    trace_id, caller = f"{random.getrandbits(128):032x}", f"{random.getrandbits(64):016x}"
    response = httpx.post(
        api + "/double",
        json=[[1.0, 2.0]],
        headers={"traceparent": f"00-{trace_id}-{caller}-01", "tracestate": "vendor=x"},
        timeout=30,
    )
    assert response.status_code == 200 and response.json() == [[2.0, 4.0]]
    receiver.wait_for(complete(trace_id))  # type: ignore[arg-type]
    spans = receiver.trace(trace_id)
    a, r = by_name(spans, "traced"), by_name(spans, "doubler")

    assert a["POST /double"].parent_id == caller and a["POST /double"].kind == SERVER
    assert a["POST /double"].attributes["http.response.status_code"] == 200
    assert a["api double"].parent_id == a["POST /double"].span_id
    assert a["runner doubler.double"].parent_id == a["api double"].span_id
    assert a["runner doubler.double"].kind == CLIENT
    # the hop: the sidecar's server span is the child of the caller's runner span, in the other process
    assert r["POST /double"].parent_id == a["runner doubler.double"].span_id and r["POST /double"].kind == SERVER
    assert r["queue doubler.double"].parent_id == r["POST /double"].span_id
    assert r["batch doubler.double"].parent_id == r["POST /double"].span_id
    assert (trace_id, r["POST /double"].span_id) in r["batch doubler.double"].links
    assert r["model doubler.double"].parent_id == r["batch doubler.double"].span_id

    # sent back: the caller's trace, with our server span as the parent; tracestate kept
    version, echoed_trace, parent, flags = response.headers["traceparent"].split("-")
    assert (echoed_trace, parent, flags) == (trace_id, a["POST /double"].span_id, "01")
    assert response.headers["tracestate"] == "vendor=x"
    assert f'"trace_id":"{trace_id}"' in proc.output()  # the access line


def test_a_request_without_traceparent_starts_its_own_trace(served, receiver: Receiver) -> None:
    api, _ = served
    response = httpx.post(api + "/double", json=[[3.0]], timeout=30)
    assert response.status_code == 200
    trace_id = response.headers["traceparent"].split("-")[1]
    receiver.wait_for(complete(trace_id))  # type: ignore[arg-type]
    root = by_name(receiver.trace(trace_id), "traced")["POST /double"]
    assert root.parent_id == ""
