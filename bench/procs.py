"""Reading /proc: a server's process tree, its memory, and which processes are its API workers.

A server runs in its own session (its root's pid is the process group id). Its tree is every
process in that group plus every descendant of the root, so children that start their own
session are still found. API workers are the processes holding a listening socket on the
server's port that have no child holding one too: gunicorn's workers, not its master.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LISTEN = "0A"


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgid: int
    state: str
    start_ticks: int  # start time since boot: with the pid, identifies a process for good
    rss_bytes: int
    cpu_ticks: int  # user + system time so far


def parse_stat(text: str) -> ProcInfo:
    """Parse /proc/PID/stat (the command name may hold spaces and parentheses)."""
    pid = int(text[: text.index(" ")])
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5): state, ppid, pgrp, ..., utime (14), stime, ...,
    # starttime (22), vsize, rss (24)
    return ProcInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        state=fields[0],
        start_ticks=int(fields[19]),
        rss_bytes=int(fields[21]) * PAGE_SIZE,
        cpu_ticks=int(fields[11]) + int(fields[12]),
    )


def read_proc(pid: int) -> ProcInfo | None:
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def all_procs() -> list[ProcInfo]:
    infos = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            info = read_proc(int(entry.name))
            if info is not None:
                infos.append(info)
    return infos


def process_tree(root: int, procs: list[ProcInfo]) -> list[ProcInfo]:
    """The living processes of ``root``'s group and all descendants of ``root``."""
    children: dict[int, list[ProcInfo]] = {}
    for info in procs:
        children.setdefault(info.ppid, []).append(info)
    found = {info.pid: info for info in procs if info.pgid == root and info.state != "Z"}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child.pid not in found and child.state != "Z":
                found[child.pid] = child
            stack.append(child.pid)
    by_pid = {info.pid: info for info in procs}
    if root in by_pid and by_pid[root].state != "Z":
        found[root] = by_pid[root]
    return list(found.values())


def listening_inodes(port: int, tables: tuple[str, ...] = ("tcp", "tcp6")) -> set[str]:
    """Inodes of the sockets listening on ``port`` (any address)."""
    inodes: set[str] = set()
    for table in tables:
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        inodes |= parse_listeners(lines, port)
    return inodes


def parse_listeners(lines: list[str], port: int) -> set[str]:
    inodes = set()
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(fields[9])
    return inodes


def holds_socket(pid: int, inodes: set[str]) -> bool:
    targets = {f"socket:[{inode}]" for inode in inodes}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                return True
        except OSError:
            continue
    return False


def api_workers(tree: list[ProcInfo], port: int) -> list[ProcInfo]:
    inodes = listening_inodes(port)
    if not inodes:
        return []
    holders = [info for info in tree if holds_socket(info.pid, inodes)]
    return leaves(holders)


def leaves(holders: list[ProcInfo]) -> list[ProcInfo]:
    """The holders none of whose children is a holder (workers, not their master)."""
    parents = {info.ppid for info in holders}
    return [info for info in holders if info.pid not in parents]


def busy_seconds(stat_text: str | None = None) -> float:
    """CPU time the whole machine spent busy since boot, all CPUs (from /proc/stat)."""
    text = stat_text if stat_text is not None else (PROC / "stat").read_text()
    fields = [int(v) for v in text.splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()
