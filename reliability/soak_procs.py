"""Every process of a ``tiffin serve`` tree: its role, RSS and open file descriptors, and their trend.

Open descriptors are split three ways. ``clients``: TCP connections on the API port (wrk's,
closed between segments, so none should be left when a sample is taken). ``keepalive``: the other
established TCP connections and the connected Unix sockets whose other end another process
holds: the API workers' pooled connections to the runner (``http+unix://`` by default) and the
runner's side of them (an asyncio loop's own socketpair has both ends in one process and stays
steady). ``ss -x`` gives a Unix socket's peer, which /proc does not. Their number
follows the concurrency of the moment (the pool opens one per concurrent call and closes it after
``keepalive_expiry`` idle), not the number of requests served. ``steady``: everything else (files,
pipes, listeners, event loops, sockets in any other state): it must not move at all over a soak.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from reliability.target import Target

PROC = Path("/proc")
ESTABLISHED = "01"
MB = 1024 * 1024


@dataclass(frozen=True)
class ProcSample:
    pid: int
    role: str
    rss_bytes: int
    fds: int
    clients: int
    keepalive: int

    @property
    def steady(self) -> int:
        return self.fds - self.clients - self.keepalive


def roles(target: Target) -> dict[int, str]:
    """pid -> "supervisor", "gunicorn master", "API worker N", "runner N" or "other"."""
    tree = target.tree()
    workers = sorted(info.pid for info in target.api_workers())
    runners = sorted(info.pid for info in target.runner_workers())
    masters = {info.ppid for info in tree if info.pid in workers}
    found: dict[int, str] = {}
    for info in tree:
        if info.pid == target.pid:
            found[info.pid] = "supervisor"
        elif info.pid in workers:
            found[info.pid] = f"API worker {workers.index(info.pid) + 1}"
        elif info.pid in runners:
            found[info.pid] = f"runner {runners.index(info.pid) + 1}"
        elif info.pid in masters:
            found[info.pid] = "gunicorn master"
        else:
            found[info.pid] = "other"
    return found


def tcp_connections() -> dict[str, tuple[int, int]]:
    """Socket inode -> (local port, remote port) of every established TCP connection."""
    found: dict[str, tuple[int, int]] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == ESTABLISHED:
                local = int(fields[1].rsplit(":", 1)[1], 16)
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                found[fields[9]] = (local, remote)
    return found


def unix_peers() -> dict[str, str]:
    """Socket inode -> its peer's inode, for every connected Unix stream socket (empty without ``ss``)."""
    ss = shutil.which("ss")
    if ss is None:
        return {}
    done = subprocess.run([ss, "-x", "-n", "-H", "state", "established"], capture_output=True, text=True, check=False)
    peers = {}
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) >= 4 and words[-3].isdigit() and words[-1].isdigit():
            peers[words[-3]] = words[-1]
    return peers


@dataclass(frozen=True)
class Sockets:
    """The machine's connections at one moment."""

    tcp: dict[str, tuple[int, int]]
    unix: dict[str, str]

    @classmethod
    def read(cls) -> Sockets:
        return cls(tcp_connections(), unix_peers())


def fd_links(pid: int) -> list[str]:
    links: list[str] = []
    try:
        names = os.listdir(PROC / str(pid) / "fd")
    except OSError:
        return links
    for name in names:
        try:
            links.append(os.readlink(PROC / str(pid) / "fd" / name))
        except OSError:
            continue
    return links


def sample(pid: int, role: str, api_port: int, sockets: Sockets) -> ProcSample | None:
    info = procs.read_proc(pid)
    if info is None or info.state == "Z":
        return None
    links = fd_links(pid)
    inodes = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    clients = keepalive = 0
    for inode in inodes:
        ports = sockets.tcp.get(inode)
        if ports is not None:
            if ports[0] == api_port:
                clients += 1
            else:
                keepalive += 1
        elif inode in sockets.unix and sockets.unix[inode] not in inodes:
            keepalive += 1
    return ProcSample(pid, role, info.rss_bytes, len(links), clients, keepalive)


def snapshot(target: Target, known: dict[int, str], sockets: Sockets | None = None) -> dict[int, ProcSample]:
    """A sample of every process in ``known`` (pid -> role) that is still alive."""
    sockets = sockets or Sockets.read()
    found = {}
    for pid, role in known.items():
        got = sample(pid, role, target.port, sockets)
        if got is not None:
            found[pid] = got
    return found


def clients_left(target: Target, known: dict[int, str]) -> int:
    return sum(s.clients for s in snapshot(target, known, Sockets(tcp_connections(), {})).values())


@dataclass(frozen=True)
class Trend:
    """Least squares of y on x: the slope and its standard error (0 with fewer than 3 points)."""

    slope: float
    stderr: float
    points: int


def fit(xs: list[float], ys: list[float]) -> Trend:
    n = len(xs)
    if n < 2:
        return Trend(0.0, 0.0, n)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return Trend(0.0, 0.0, n)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if n < 3:
        return Trend(slope, 0.0, n)
    residual = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
    return Trend(slope, (residual / (n - 2) / sxx) ** 0.5, n)
