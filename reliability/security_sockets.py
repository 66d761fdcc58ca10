"""The listening sockets of a process tree, read from /proc: TCP (v4 and v6) and Unix.

Tables are read from ``/proc/<pid>/net/``, so a process in its own network namespace (a
``unshare -n`` run) shows its own sockets. A socket belongs to each process holding it.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from bench import procs

LISTEN = "0A"
ACCEPTING = 0x10000  # __SO_ACCEPTCON in /proc/net/unix's Flags


@dataclass(frozen=True)
class Listener:
    family: str  # "tcp", "tcp6" or "unix"
    host: str  # the address ("127.0.0.1", "::", ...), or the socket's path for "unix"
    port: int  # 0 for "unix"
    holders: tuple[str, ...]  # the role of each process holding it: "serve", "api", "runner iris_clf"

    @property
    def address(self) -> str:
        if self.family == "unix":
            return f"unix:{self.host}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return self.family == "unix" or ipaddress.ip_address(self.host).is_loopback

    def describe(self) -> str:
        return f"{self.address} ({', '.join(sorted(set(self.holders)))})"


def tcp_address(hex_address: str) -> tuple[str, int]:
    """``0100007F:0BB9`` → ("127.0.0.1", 3001); IPv6 addresses are four little-endian words."""
    raw, port = hex_address.split(":")
    words = bytes.fromhex(raw)
    packed = b"".join(words[i : i + 4][::-1] for i in range(0, len(words), 4))
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped), int(port, 16)
    return str(address), int(port, 16)


def role(pid: int) -> str:
    words = procs.cmdline(pid).split()
    for verb in ("runner", "api", "serve"):
        if verb in words:
            at = words.index(verb)
            name = words[at + 1] if verb == "runner" and at + 1 < len(words) else ""
            return f"{verb} {name}".strip()
    return Path(words[0]).name if words else str(pid)


def socket_inodes(pid: int) -> set[str]:
    found: set[str] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            found.add(link[8:-1])
    return found


def _tables(pid: int) -> dict[str, tuple[str, str, int]]:
    """inode → (family, host or path, port) of every listening socket in ``pid``'s namespace."""
    found: dict[str, tuple[str, str, int]] = {}
    for family in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{family}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN:
                host, port = tcp_address(fields[1])
                found[fields[9]] = (family, host, port)
    try:
        lines = Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 8 and int(fields[3], 16) & ACCEPTING:
            found[fields[6]] = ("unix", fields[7], 0)
    return found


def listeners(pids: list[int]) -> list[Listener]:
    """Every listening socket held by one of ``pids``, with who holds it."""
    holders: dict[tuple[str, str, int], list[str]] = {}
    tables: dict[str, tuple[str, str, int]] = {}
    for pid in pids:
        if not tables:
            tables = _tables(pid)
        inodes = socket_inodes(pid)
        for inode in inodes:
            if inode in tables:
                holders.setdefault(tables[inode], []).append(role(pid))
    return [Listener(f, h, p, tuple(who)) for (f, h, p), who in sorted(holders.items())]
