"""``runners.tracing``: free while off, and the spans of coalesced calls and batches while on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runners import tracing
from runners.client.coalesce import Lane
from runners.runnable import MethodConfig
from runners.sidecar.batching import Batcher, ModelWorker
from runners.spec import BatchingOptions
from runners.tracing.options import TracingOptions
from runners.wire.arguments import Arguments
from tests.procs import ROOT


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(TracingOptions(enabled=True), "test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def finished(exporter: InMemorySpanExporter) -> dict[str, list[Any]]:
    tracing.flush()
    found: dict[str, list[Any]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def test_while_off_nothing_is_imported_and_every_helper_is_a_no_op() -> None:
    code = (
        "import sys\n"
        "from starlette.testclient import TestClient\n"
        "from app import Service\n"
        "from app.io import Text\n"
        "from runners import tracing\n"
        "svc = Service('s')\n"
        "@svc.api(input=Text(), output=Text())\n"
        "def echo(t): return t\n"
        "with TestClient(svc.to_asgi()) as c:\n"
        "    assert c.post('/echo', content='x', headers={'content-type': 'text/plain'}).text == 'x'\n"
        "    assert 'traceparent' not in c.post('/echo', content='x', headers={'content-type': 'text/plain'}).headers\n"
        "with tracing.span('x') as s: assert s is None\n"
        "assert tracing.start('x') is None and tracing.current_span() is None\n"
        "h = {}; tracing.inject(h); assert h == {}\n"
        "loaded = [m for m in sys.modules if m.startswith('opentelemetry.sdk') or m == 'runners.tracing.otel']\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_options_travel_in_the_environment() -> None:
    options = TracingOptions(enabled=True, sample_rate=0.25, exporter="console", endpoint="http://c:4318")
    assert TracingOptions.from_env(options.to_env()) == options
    assert TracingOptions.from_env({}) == TracingOptions()
    assert TracingOptions(endpoint="http://c:4318").traces_url == "http://c:4318/v1/traces"
    assert TracingOptions(endpoint="http://c:4318/custom/path").traces_url == "http://c:4318/custom/path"
    with pytest.raises(ValueError, match="TIFFIN_TRACING_ENABLED"):
        TracingOptions.from_env({"TIFFIN_TRACING_ENABLED": "maybe"})
    with pytest.raises(ValueError, match="sample_rate"):
        TracingOptions.from_env({"TIFFIN_TRACING_SAMPLE_RATE": "2"})


def test_coalesced_callers_keep_their_own_spans_linked_both_ways_to_the_hop(spans: InMemorySpanExporter) -> None:
    async def main() -> None:
        gate = asyncio.Event()

        async def send(value: Arguments, deadline: float | None) -> Any:
            await gate.wait()
            return value.args[0] * 2

        lane = Lane(send, name="runner r.m")

        async def caller(i: int) -> Any:
            with tracing.span(f"caller {i}", kind="client"):
                return await lane.call(Arguments.of(np.array([[i]])), None)

        first = asyncio.create_task(caller(0))  # goes at once, alone, and holds the lane
        await asyncio.sleep(0)
        rest = [asyncio.create_task(caller(i)) for i in (1, 2, 3)]
        await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(first, *rest)
        assert [int(r[0][0]) for r in results] == [0, 2, 4, 6]

    asyncio.run(main())
    found = finished(spans)
    (hop,) = found["runner r.m coalesced"]
    callers = [found[f"caller {i}"][0] for i in (1, 2, 3)]
    assert hop.parent.span_id == callers[0].context.span_id
    assert {link.context.span_id for link in hop.links} == {c.context.span_id for c in callers}
    for caller in callers[1:]:
        assert [link.context.span_id for link in caller.links] == [hop.context.span_id]
    assert hop.attributes["tiffin.coalesced_calls"] == 3


def test_a_batch_links_every_request_in_it_and_each_wait_is_its_own_span(spans: InMemorySpanExporter) -> None:
    async def main() -> None:
        worker = ModelWorker("t")
        batcher = Batcher(
            lambda x: x * 2,
            config=MethodConfig(batchable=True),
            options=BatchingOptions(max_batch_size=8, max_latency_ms=1000),
            worker=worker,
            name="r.m",
        )

        async def request(i: int) -> Any:
            with tracing.span(f"request {i}", kind="server"):
                return await batcher.submit(Arguments.of(np.array([[i]])))

        # hold the model thread so the requests queue up and go as one batch
        async with worker.lock:
            tasks = [asyncio.create_task(request(i)) for i in range(3)]
            while batcher.depth < 3:
                await asyncio.sleep(0.01)
        results = await asyncio.gather(*tasks)
        assert [int(r[0][0]) for r in results] == [0, 2, 4]
        await batcher.close()
        worker.close()

    asyncio.run(main())
    found = finished(spans)
    requests = {found[f"request {i}"][0].context.span_id for i in range(3)}
    (batch,) = found["batch r.m"]
    assert {link.context.span_id for link in batch.links} == requests
    assert batch.attributes["tiffin.batch.requests"] == 3
    assert batch.parent.span_id in requests
    assert {w.parent.span_id for w in found["queue r.m"]} == requests
    (model,) = found["model r.m"]
    assert model.parent.span_id == batch.context.span_id
