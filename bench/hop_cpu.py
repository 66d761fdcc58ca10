"""The hop's own code per call, without the network: the sidecar's answer and the client's call.

    .venv/bin/python -m bench.hop_cpu [CALLS]          # µs of CPU per call, each side

Builds the sidecar's ``ModelHost`` for ``bench.client_bench:Echo`` in this process and runs
``runners.sidecar.calls.answer`` on a ``.npy`` body of one 1×4 row, then ``RunnerClient.call`` over
a transport that answers at once. What is left is decoding, batching, the model call and
encoding on both sides, the part a change of the wire format touches. On a shared machine, count
instructions instead of time: run it under ``valgrind --tool=callgrind`` with two values of CALLS
and divide the difference of the totals by the difference of the calls.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import numpy as np

from runners.client.runner_client import RunnerClient
from runners.client.transport import RawResponse
from runners.sidecar.calls import answer
from runners.sidecar.host import ModelHost
from runners.spec import RunnerSpec
from runners.wire import npy, protocol
from runners.wire.arguments import Arguments

ROW = np.array([[5.9, 3.0, 5.1, 1.8]])
BODY = npy.dumps(ROW)
WARM_UP = 2000


class _Answers:
    async def request(self, method: str, url: str, **_: Any) -> RawResponse:
        return RawResponse(200, {"content-type": protocol.NPY}, BODY)

    async def aclose(self) -> None:
        return None


async def measure(calls: int) -> tuple[float, float]:
    host = ModelHost(RunnerSpec.for_runnable("echo", "bench.client_bench:Echo"))
    await host.load()
    headers = [(b"content-type", protocol.NPY.encode()), (b"accept", protocol.CLIENT_ACCEPT.encode())]
    for _ in range(WARM_UP):
        await answer(host, "echo", headers, BODY)
    started = time.process_time()
    for _ in range(calls):
        await answer(host, "echo", headers, BODY)
    sidecar = time.process_time() - started
    client = RunnerClient("echo", "http://127.0.0.1:1", transport=_Answers())
    for _ in range(WARM_UP):
        await client.call("echo", Arguments((ROW,), {}))
    started = time.process_time()
    for _ in range(calls):
        await client.call("echo", Arguments((ROW,), {}))  # as Runner builds it per call
    caller = time.process_time() - started
    await host.close()
    return sidecar, caller


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    calls = int(args[0]) if args else 20000
    sidecar, caller = asyncio.run(measure(calls))
    per = 1e6 / max(calls, 1)
    print(f"sidecar answer {sidecar * per:.2f} µs   client call {caller * per:.2f} µs   ({calls} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
