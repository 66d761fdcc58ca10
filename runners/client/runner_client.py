"""The API worker's side of the runner hop: ``RunnerClient.call(method, Arguments.of(x), deadline=...)``.

One client per event loop per runner (``Runner`` keeps them): a pooled set of keep-alive
connections to every replica the ``Balancer`` knows, least outstanding requests first. Every
call sends the caller's deadline (``X-Tiffin-Deadline``) and uses it as its timeout; connecting
gives up after ``connect_timeout`` (1 s), trying the next replica, so a dead runner turns into
``RunnerUnavailable`` quickly instead of a hang. Error answers become the ``RunnerError`` they
were on the runner (``RunnerError.from_dict``).

The transport (``runners.client.transport`` is the seam; tests plug in a plain class) is
``runners.client.pool.PooledTransport``: keep-alive HTTP/1.1 on asyncio, answers parsed by
httptools, a small pool per replica, one ``call_at`` timer per request that is cancelled with the
answer. It does what the hop needs and no more (one write per request, one parse, a future per
exchange), and costs a fraction of httpx's or aiohttp's CPU per call (docs/DESIGN.md, "Measured").
Over a Unix socket (``http+unix://`` URLs, which ``tiffin serve`` uses) the sidecar answers
through ``runners.sidecar.unix_server`` instead of uvicorn. Under load, ``Runner`` also coalesces
concurrent calls (``runners.client.coalesce``), so the hop is paid per batch rather than per
request.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from runners import tracing
from runners.client.balancer import Balancer, Replica
from runners.client.pool import PooledTransport
from runners.client.streaming import RunnerStream
from runners.client.transport import (
    ConnectFailed,
    ConnectionLost,
    ConnectTimedOut,
    RawResponse,
    TimedOut,
    Transport,
    TransportError,
)
from runners.errors import DeadlineExceeded, RunnerError, RunnerUnavailable
from runners.wire import protocol
from runners.wire.arguments import Arguments
from runners.wire.values import UnsendableValue

CONNECT_TIMEOUT = 1.0


class RunnerClient:
    def __init__(
        self,
        name: str,
        urls: str,
        *,
        timeout: float = 30.0,
        transport: Transport | None = None,
        balancer: Balancer | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self._connect_timeout = connect_timeout
        self._transport: Transport = transport or PooledTransport()
        self._balancer = balancer or Balancer(urls)

    async def call(self, method: str, arguments: Arguments, *, deadline: float | None = None) -> Any:
        """One call of ``method``; ``UnsendableValue`` (a ``TypeError``) before anything is sent if an
        argument cannot go, naming it."""
        try:
            content, media = protocol.encode_call(arguments)
        except UnsendableValue as exc:
            raise UnsendableValue(exc.reason, exc.path, f"{self.name}.{method}() {exc.what}") from None
        headers = {"content-type": media, "accept": protocol.CLIENT_ACCEPT}
        if deadline is not None:
            headers[protocol.DEADLINE_HEADER] = repr(deadline)
        tracing.inject(headers)  # the current span's traceparent (nothing while tracing is off)
        response = await self._send("POST", f"/{method}", headers, content, deadline)
        if response.status != 200:
            raise _error(response)
        try:
            return protocol.decode(response.content, response.headers.get("content-type"))
        except RunnerError as exc:  # the runner's answer, not the caller's input, is at fault
            raise RunnerError(f"Runner {self.name!r} sent an answer that does not decode.", detail=exc.message) from exc

    def stream(self, method: str, value: Arguments, *, deadline: float | None = None) -> RunnerStream:
        """A call of a generator method: its values as they come (``runners.client.streaming``)."""
        return RunnerStream(
            self.name,
            method,
            value,
            balancer=self._balancer,
            timeout=self.timeout,
            connect_timeout=self._connect_timeout,
            deadline=deadline,
        )

    async def ready(self, timeout: float = 1.0) -> bool:
        """Whether some replica answers its ``/readyz`` with 200 within ``timeout``."""
        try:
            await self._balancer.ensure_fresh()
        except RunnerUnavailable:
            return False
        for replica in self._balancer.replicas:
            try:
                response = await self._transport.request(
                    "GET",
                    f"{replica.url}/readyz",
                    headers=_host(replica, {}),
                    content=None,
                    timeout=timeout,
                    connect_timeout=min(timeout, self._connect_timeout),
                )
            except TransportError:
                continue
            if response.status == 200:
                return True
        return False

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _send(
        self, method: str, path: str, headers: dict[str, str], content: bytes | None, deadline: float | None
    ) -> RawResponse:
        await self._balancer.ensure_fresh()
        tried: set[Replica] = set()
        slow: set[Replica] = set()
        retried_lost = False
        last: TransportError | None = None
        while True:
            timeout = self.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.time())
                if timeout <= 0:
                    raise DeadlineExceeded()
            replica = self._balancer.pick(tried)
            if replica is None:
                raise RunnerUnavailable(
                    f"Runner {self.name!r} is unreachable.", detail=f"{self._balancer.urls}: {last}", retry_after=1.0
                )
            replica.inflight += 1
            try:
                response = await self._transport.request(
                    method,
                    replica.url + path,
                    headers=_host(replica, headers),
                    content=content,
                    timeout=timeout,
                    connect_timeout=min(timeout, self._connect_timeout),
                )
            except ConnectFailed as exc:
                last = exc
                if isinstance(exc, ConnectTimedOut) and replica not in slow:
                    # Under a burst, our own loop can be too busy to see a connection complete in time.
                    slow.add(replica)
                    continue
                self._balancer.failed(replica)
                tried.add(replica)
                continue
            except ConnectionLost as exc:
                # Most often a keep-alive connection the runner closed as we reused it: try once more.
                if retried_lost:
                    raise RunnerUnavailable(
                        f"Runner {self.name!r} closed the connection.", detail=str(exc), retry_after=1.0
                    ) from exc
                retried_lost, last = True, exc
                continue
            except TimedOut as exc:
                raise DeadlineExceeded(f"Runner {self.name!r} did not answer in time.", detail=str(exc)) from exc
            except TransportError as exc:
                raise RunnerUnavailable(
                    f"Runner {self.name!r} could not be reached.", detail=str(exc), retry_after=1.0
                ) from exc
            finally:
                replica.inflight -= 1
            self._balancer.succeeded(replica)
            return response


def _host(replica: Replica, headers: dict[str, str]) -> dict[str, str]:
    return headers if replica.host is None else {**headers, "host": replica.host}


def _error(response: RawResponse) -> RunnerError:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        body = {
            "error": f"The runner answered {response.status}.",
            "detail": response.content[:200].decode(errors="replace"),
        }
    retry_after: float | None = None
    if "retry-after" in response.headers:
        try:
            retry_after = float(response.headers["retry-after"])
        except ValueError:
            retry_after = None
    return RunnerError.from_dict(body, response.status, retry_after)
