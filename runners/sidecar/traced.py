"""A call of the model under the sidecar's server span, the child of the caller's ``traceparent``.

Used by ``runners.sidecar.routes`` instead of ``calls.answer`` only while tracing is on; the
batcher (``runners.sidecar.batching``) adds the queue wait, the batch and the model call.
"""

from __future__ import annotations

from collections.abc import Iterable

from runners import tracing
from runners.sidecar.calls import Answer, answer
from runners.sidecar.host import ModelHost


async def traced_answer(host: ModelHost, method: str, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> Answer:
    headers = list(headers)
    attributes = {"tiffin.runner": host.spec.name, "tiffin.runner.method": method, "http.request.method": "POST"}
    with tracing.server_span(f"POST /{method}", headers, attributes) as span:
        status, out, payload = await answer(host, method, headers, body)
        if span is not None:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                tracing.fail(span, f"answered {status}")
        return status, out, payload
