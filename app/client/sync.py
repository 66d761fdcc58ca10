"""``SyncClient``: call a tiffin (or BentoML-style) server's APIs as blocking methods.

    with SyncClient("http://127.0.0.1:3000") as client:
        client.classify(np.array([[5.9, 3.0, 5.1, 1.8]]))   # -> np.ndarray
        client.call("classify", arr)                        # the same, by name
        client.health().status                              # 200 once ready

The API table is read from ``/docs.json`` when the client is made; each API becomes a method
(unless its name is one of the client's own, like ``call``: then only ``call`` reaches it).
A client is safe to share between threads: httpx pools its connections.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

from app.client.calls import (
    DEFAULT_TIMEOUT,
    DOCS,
    Call,
    Health,
    Table,
    base_url,
    http_kind,
    httpx,
    retry_delay,
    transport_error,
)
from app.client.errors import DeadlineExceeded

__all__ = ["SyncClient"]


class SyncClient:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        http: Any = None,
    ) -> None:
        """``timeout``: seconds per call, retries included; ``headers``: sent with every call;
        ``retry``: try a 503 + Retry-After again within the timeout; ``http``: the ``httpx.Client``
        to send with (for instance starlette's ``TestClient``), else one made here."""
        self.server_url = base_url(url)
        self.timeout = float(timeout)
        self.headers = dict(headers or {})
        self.retry = retry
        self._owns_http = http is None
        self._http = http if http is not None else httpx().Client(timeout=self.timeout)
        try:
            self.table = self._load()
        except BaseException:
            self.close()  # nothing else will: the caller never gets the client
            raise
        self.endpoints = list(self.table.endpoints)
        for name in self.endpoints:
            if not hasattr(self, name):
                setattr(self, name, functools.partial(self.call, name))

    @classmethod
    def from_url(cls, server_url: str, *, kind: str | None = None, **kwargs: Any) -> SyncClient:
        """BentoML's spelling of ``SyncClient(server_url)``."""
        http_kind(kind)
        return cls(server_url, **kwargs)

    def _load(self) -> Table:
        deadline = time.monotonic() + self.timeout
        while True:
            response = self._get(DOCS, max(0.001, deadline - time.monotonic()))
            delay = retry_delay(response.status_code, response.headers, deadline) if self.retry else None
            if delay is None:
                return Table(self.server_url, response.status_code, response.content)
            time.sleep(delay)

    def _get(self, path: str, timeout: float) -> Any:
        module = httpx()
        try:
            return self._http.get(self.server_url + path, headers=self.headers, timeout=timeout)
        except module.TimeoutException as exc:
            raise DeadlineExceeded(f"{self.server_url}{path}: no answer within {timeout:g}s") from exc
        except module.TransportError as exc:
            raise transport_error(self.server_url, exc) from exc

    def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call API ``name`` with one input value, or with keyword arguments (multipart parts, JSON fields)."""
        call = Call(self.table[name], args, kwargs, timeout=self.timeout, headers=self.headers, retry=self.retry)
        module = httpx()
        url = self.server_url + call.endpoint.route
        while True:
            try:
                response = self._http.post(url, content=call.content, headers=call.headers, timeout=call.remaining())
            except module.TimeoutException as exc:
                raise call.timed_out(exc) from exc
            except module.TransportError as exc:
                raise transport_error(self.server_url, exc) from exc
            value, delay = call.outcome(response.status_code, response.headers, response.content)
            if delay is None:
                return value
            time.sleep(delay)

    def health(self) -> Health:
        """``/readyz``, whatever it answers (a 503 is an answer here, not an error)."""
        response = self._get("/readyz", min(self.timeout, 10.0))
        return Health.of(response.status_code, response.headers, response.content)

    @staticmethod
    def wait_until_server_ready(host: str, port: int, timeout: float = 30, check_interval: float = 0.2) -> None:
        """Poll ``http://host:port/readyz`` until it answers 200; ``DeadlineExceeded`` after ``timeout``."""
        module = httpx()
        url = f"{base_url(host)}:{port}/readyz"
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                status = module.get(url, timeout=min(2.0, max(0.1, deadline - time.monotonic()))).status_code
                if status == 200:
                    return
                last = status
            except module.HTTPError as exc:
                last = exc
            time.sleep(check_interval)
        raise DeadlineExceeded(f"{url} was not ready within {timeout:g}s (last: {last!r})")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.server_url} APIs={self.endpoints}>"
