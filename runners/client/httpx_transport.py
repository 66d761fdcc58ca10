"""``HttpxTransport``: the ``Transport`` seam over httpx, for driving an ASGI app in-process.

Tests pass ``inner=httpx.ASGITransport(app=...)`` to call a sidecar app without a socket. It also
works over the network, but ``runners.client.pool.PooledTransport`` is the default there: it costs a
fraction of httpx's CPU per request (numbers in ``runners.client.runner_client``). httpx is imported only by
whoever imports this module, so API workers never load it. (httpcore imports ``sniffio`` on
every request, and a missing sniffio costs a ``sys.path`` scan each time: keep it installed.)
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from runners.client.transport import (
    ConnectFailed,
    ConnectionLost,
    ConnectTimedOut,
    RawResponse,
    TimedOut,
    TransportError,
)

__all__ = ["HttpxTransport"]


class HttpxTransport:
    def __init__(self, *, max_connections: int = 100, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            transport=inner,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=64, keepalive_expiry=15.0),
            trust_env=False,  # runner traffic is internal: never through an HTTP proxy from the environment
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float,
        connect_timeout: float,
    ) -> RawResponse:
        try:
            response = await self._client.request(
                method,
                url,
                headers=headers,
                content=content,
                timeout=httpx.Timeout(timeout, connect=connect_timeout),
            )
        except httpx.ConnectTimeout as exc:
            raise ConnectTimedOut(str(exc) or type(exc).__name__) from exc
        except httpx.ConnectError as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        except httpx.TimeoutException as exc:
            raise TimedOut(str(exc) or type(exc).__name__) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        return RawResponse(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()
