"""Where a runner lives: one or more URLs, each name re-resolved to all of its addresses.

``TIFFIN_RUNNER_X_URL=http://runner:3001`` with ``docker compose --scale runner=3`` resolves to
three addresses; the balancer re-resolves every ``resolve_interval`` seconds (in the background,
after the first time) so replicas that come and go are picked up, and sends each request to the
reachable replica with the fewest requests in flight. ``http+unix://`` URLs (the socket's path
percent-encoded as the authority) name a sidecar on this machine; they are never resolved. A
replica (one address of a runner) that refused a connection sits out ``eject_seconds`` unless
every replica has failed, so a lone runner that comes back is used again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from runners.errors import RunnerUnavailable

logger = logging.getLogger("runners.client.balancer")

Resolver = Callable[[str, int], Awaitable[list[str]]]
UNIX_SCHEME = "http+unix"  # http+unix://%2Frun%2Ftiffin%2Firis_clf.sock: HTTP over a Unix socket


@dataclass(eq=False, slots=True)
class Replica:
    url: str  # scheme://address:port[/prefix], no trailing slash
    host: str | None  # the Host header, when the URL names an address instead of the host
    inflight: int = 0
    failed_until: float = 0.0


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str

    @property
    def needs_resolving(self) -> bool:
        if self.scheme != "http":  # TLS needs the name for SNI; a Unix socket has no address to resolve
            return False
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return True
        return False

    def replica_url(self, address: str) -> str:
        if self.scheme == UNIX_SCHEME:
            return f"{self.scheme}://{address}{self.path}"
        shown = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{shown}:{self.port}{self.path}"


def parse_targets(urls: str) -> list[_Target]:
    targets = []
    for raw in (u.strip() for u in urls.split(",")):
        if not raw:
            continue
        parts = urlsplit(raw if "://" in raw else f"http://{raw}")
        if parts.scheme == UNIX_SCHEME and parts.netloc:
            # the socket's path, percent-encoded, is the authority: kept as written (not lower-cased)
            targets.append(_Target(UNIX_SCHEME, parts.netloc, 0, parts.path.rstrip("/")))
            continue
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"invalid runner URL {raw!r}: expected http://host:port (or {UNIX_SCHEME}://PERCENT-ENCODED-PATH)"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        targets.append(_Target(parts.scheme, parts.hostname, port, parts.path.rstrip("/")))
    if not targets:
        raise ValueError(f"no runner URL in {urls!r}")
    return targets


async def resolve_host(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Balancer:
    def __init__(
        self,
        urls: str,
        *,
        resolve_interval: float = 5.0,
        eject_seconds: float = 2.0,
        resolver: Resolver = resolve_host,
    ) -> None:
        self.urls = urls
        self._targets = parse_targets(urls)
        self._interval = resolve_interval
        self._eject = eject_seconds
        self._resolver = resolver
        self._replicas: list[Replica] = []
        self._resolved_at: float | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._static = not any(t.needs_resolving for t in self._targets)
        self._turn = 0

    @property
    def replicas(self) -> list[Replica]:
        return list(self._replicas)

    @property
    def size(self) -> int:
        """How many replicas are known (no copy: asked on every coalescing decision)."""
        return len(self._replicas)

    async def ensure_fresh(self) -> None:
        if self._resolved_at is None or not self._replicas:
            await self.refresh()
        elif (
            not self._static
            and time.monotonic() - self._resolved_at > self._interval
            and (self._refreshing is None or self._refreshing.done())
        ):
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_quietly())

    async def refresh(self) -> None:
        known = {(e.url, e.host): e for e in self._replicas}
        fresh: list[Replica] = []
        for target in self._targets:
            host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
            if not target.needs_resolving:
                addresses, header = [target.host], None
            else:
                try:
                    addresses, header = await self._resolver(target.host, target.port), host_header
                except OSError as exc:
                    logger.warning("cannot resolve runner host %s: %s", target.host, exc)
                    addresses, header = [], None
                    fresh.extend(e for e in self._replicas if e.host == host_header)  # keep the last good answer
            for address in addresses:
                url = target.replica_url(address)
                fresh.append(known.get((url, header)) or Replica(url, header))
        self._replicas = list(dict.fromkeys(fresh))
        self._resolved_at = time.monotonic()
        if not self._replicas:
            raise RunnerUnavailable("The runner's address could not be resolved.", detail=self.urls, retry_after=1.0)

    async def _refresh_quietly(self) -> None:
        with contextlib.suppress(RunnerUnavailable):  # the next call resolves again, and reports it
            await self.refresh()

    def pick(self, exclude: set[Replica]) -> Replica | None:
        """The reachable replica with the fewest requests in flight (ties taken in turn)."""
        candidates = [e for e in self._replicas if e not in exclude]
        if not candidates:
            return None
        now = time.monotonic()
        healthy = [e for e in candidates if e.failed_until <= now]
        if not healthy:
            return min(candidates, key=lambda e: e.failed_until)
        self._turn = (self._turn + 1) % len(healthy)
        ordered = healthy[self._turn :] + healthy[: self._turn]
        return min(ordered, key=lambda e: e.inflight)

    def failed(self, replica: Replica) -> None:
        replica.failed_until = time.monotonic() + self._eject

    def succeeded(self, replica: Replica) -> None:
        replica.failed_until = 0.0
