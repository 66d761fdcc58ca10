"""Faults under load: processes of a serving ``tiffin serve`` killed, stopped or told to stop.

Each scenario starts the default iris service on a fresh server with short deadlines
(``server.timeout`` 3 s, ``runners.iris_clf.timeout`` 2 s), drives ``POST /classify`` with
``reliability.load`` (16 keep-alive connections, a client timeout of 10 s so a hang shows as
one), does one fault in the middle of the load, and reports every request by outcome, the
longest request against the deadline, the time from the fault to recovery and whether the
process came back:

- ``api-kill``: SIGKILL one gunicorn worker. Requests in flight on its connections are cut
  (reset): at most the connections it held, counted from /proc just before; gunicorn starts a
  new worker; every other request succeeds.
- ``runner-kill`` (``workers: 2``): SIGKILL one runner worker. Its sibling takes the calls: no
  request fails. With ``workers: 1`` (full mode, and short) the calls fail fast with 503 until
  the supervisor has started a new worker.
- ``runner-stop``: SIGSTOP one of two runner workers for longer than the deadline, then
  SIGCONT. Requests whose call went to it get 504 by the deadline, none hangs, the others keep
  being answered.
- ``sigterm``: SIGTERM to ``tiffin serve`` itself. /readyz stops answering 200, requests in
  flight finish 200, so do requests sent on open connections after it, every process exits
  within ``graceful_timeout``, and connections made after the listener closed are refused
  (expected, and counted). A connection made in the instant the last listener closes can
  be accepted by the kernel and then reset before any answer: counted too, at most one per
  client.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.process.child import probe_ready
from bench import procs
from bench.procs import ProcInfo
from reliability.faults_measure import Timeline, counts, established, show_counts
from reliability.load import Load, post_request
from reliability.report import Figure
from reliability.target import Run, Target, default_config, serve

SECTION = "faults"
BODY = b"[[5.9,3.0,5.1,1.8]]"
EXPECTED = b"[2]"
CONCURRENCY = 16
SERVER_TIMEOUT = 3.0
RUNNER_TIMEOUT = 2.0
GRACEFUL_TIMEOUT = 5.0
SLACK = 2.0  # beyond the deadline, for a loaded 2-core machine
CLIENT_TIMEOUT = 10.0
RECOVERY_BOUND = 20.0  # a runner worker's restart loads its model again


@dataclass(frozen=True)
class Durations:
    before: float  # load before the fault
    after: float  # load after it (after SIGCONT, for a stop)
    stop_for: float = SERVER_TIMEOUT + 1.5  # a SIGSTOP longer than the deadline


SHORT = Durations(before=1.0, after=4.0)
FULL = Durations(before=5.0, after=20.0, stop_for=SERVER_TIMEOUT + 5.0)


def config(runner_workers: int = 1) -> dict[str, Any]:
    document = default_config(timeout=SERVER_TIMEOUT, graceful_timeout=GRACEFUL_TIMEOUT)
    runner = document["runners"]["iris_clf"]
    runner["timeout"] = RUNNER_TIMEOUT
    runner["workers"] = runner_workers
    return document


@dataclass
class Respawn:
    """Watches a process list for a pid that was not there at the fault."""

    lister: Callable[[], list[ProcInfo]]
    old: set[int]
    seen_after: float | None = None
    new_pids: set[int] = field(default_factory=set)

    async def watch(self, since: float, until: float) -> None:
        while time.monotonic() < until and self.seen_after is None:
            fresh = {p.pid for p in self.lister()} - self.old
            if fresh:
                self.seen_after, self.new_pids = time.monotonic() - since, fresh
                return
            await asyncio.sleep(0.1)

    def describe(self) -> str:
        if self.seen_after is None:
            return "no new process"
        return f"new pid {min(self.new_pids)} after {self.seen_after:.1f} s"


async def _loaded(target: Target, durations: Durations, fault: Callable[[float], Awaitable[None]]) -> Timeline:
    """Load, ``fault(fault_at)`` in the middle, more load; every request's outcome."""
    load = Load(
        target.host,
        target.port,
        post_request(target.host, target.port, "/classify", BODY),
        EXPECTED,
        concurrency=CONCURRENCY,
        client_timeout=CLIENT_TIMEOUT,
    )
    load.start()
    await asyncio.sleep(durations.before)
    fault_at = time.monotonic()
    await fault(fault_at)
    return Timeline(fault_at, await load.stop())


def _kill(pid: int, sig: signal.Signals) -> None:
    os.kill(pid, sig)


def wait_runner_workers(target: Target, count: int, timeout: float = 60.0) -> list[ProcInfo]:
    """The runner's workers once ``count`` of them answer ``/readyz`` on their sockets.

    ``tiffin serve`` is ready with one; the others start after it and load meanwhile."""
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        workers = target.runner_workers()
        sockets = [_uds(w.pid) for w in workers]
        if len(workers) == count and all(s is not None and probe_ready(s) for s in sockets):
            return workers
        time.sleep(0.1)
    raise RuntimeError(f"{count} runner workers not ready within {timeout:g} s: {target.log_tail()}")


def _uds(pid: int) -> str | None:
    words = procs.cmdline(pid).split()
    return words[words.index("--uds") + 1] if "--uds" in words[:-1] else None


def _common(timeline: Timeline, bound: float) -> tuple[str, list[str]]:
    """The figure's shared part, and what failed of the checks every scenario makes."""
    found = counts(timeline.outcomes)
    problems = []
    if found["timeout"]:
        problems.append(f"{found['timeout']} requests hung past the client's {CLIENT_TIMEOUT:g} s")
    if timeline.longest > bound:
        problems.append(f"the longest request took {timeline.longest:.2f} s > {bound:g} s")
    if not all(o.ok for o in timeline.before):
        problems.append(f"requests failed before the fault: {show_counts(counts(timeline.before))}")
    if found["wrong"]:
        problems.append(f"{found['wrong']} answers were not {EXPECTED.decode()}")
    text = (
        f"{len(timeline.outcomes)} requests: {show_counts(found)}; longest {timeline.longest:.2f} s "
        f"(deadline {SERVER_TIMEOUT:g} s, bound {bound:g} s)"
    )
    return text, problems


def _recovery(timeline: Timeline, bound: float, problems: list[str]) -> str:
    if not timeline.settled:
        problems.append("requests were still failing at the end of the load")
    elif timeline.recovery > bound:
        problems.append(f"recovery took {timeline.recovery:.2f} s > {bound:g} s")
    return f"recovered {timeline.recovery:.2f} s after the fault (bound {bound:g} s)"


def _figure(check: str, text: str, problems: list[str], target: Target) -> Figure:
    detail = "; ".join(problems) + (f"; log: {_log(target)}" if problems else "")
    return Figure(SECTION, check, text, not problems, detail)


def _log(target: Target, lines: int = 8) -> str:
    """The server log's last lines but the access log's."""
    try:
        text = target.server.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    kept = [line for line in text if "tiffin.access" not in line and line.strip()]
    return " / ".join(kept[-lines:])


# -- a: an API worker ---------------------------------------------------------------------------


def api_kill(run: Run, durations: Durations) -> Figure:
    check = f"SIGKILL of 1 of 2 API workers under load (c={CONCURRENCY})"
    with serve(run, "faults-api-kill", config()) as target:
        held: list[int] = []
        watcher: list[Respawn] = []

        async def fault(at: float) -> None:
            victim = target.api_workers()[0].pid
            held.append(established(victim, target.port))
            respawn = Respawn(target.api_workers, {p.pid for p in target.api_workers()})
            watcher.append(respawn)
            _kill(victim, signal.SIGKILL)
            await asyncio.gather(respawn.watch(at, at + durations.after), asyncio.sleep(durations.after))

        timeline = asyncio.run(_loaded(target, durations, fault))
        text, problems = _common(timeline, SERVER_TIMEOUT + SLACK)
        failed = counts(timeline.failed_after)
        cut = failed["reset"]
        if sum(failed.values()) != cut:
            problems.append(f"failures other than cut connections: {show_counts(failed)}")
        if cut > held[0]:
            problems.append(f"{cut} requests cut, more than the {held[0]} connections the worker held")
        if watcher[0].seen_after is None:
            problems.append("gunicorn started no new worker")
        recovery = _recovery(timeline, SLACK, problems)
        text += f"; {cut} cut (bound: the {held[0]} connections it held); {recovery}; {watcher[0].describe()}"
        return _figure(check, text, problems, target)


# -- b: a runner worker -------------------------------------------------------------------------


def runner_kill(run: Run, durations: Durations, workers: int) -> Figure:
    check = f"SIGKILL of a runner worker (workers: {workers}) under load (c={CONCURRENCY})"
    with serve(run, f"faults-runner-kill-{workers}", config(workers)) as target:
        wait_runner_workers(target, workers)
        watcher: list[Respawn] = []

        async def fault(at: float) -> None:
            workers_now = target.runner_workers()
            respawn = Respawn(target.runner_workers, {p.pid for p in workers_now})
            watcher.append(respawn)
            _kill(workers_now[0].pid, signal.SIGKILL)
            await asyncio.gather(respawn.watch(at, at + durations.after), asyncio.sleep(durations.after))

        timeline = asyncio.run(_loaded(target, durations, fault))
        text, problems = _common(timeline, SERVER_TIMEOUT + SLACK)
        failed = counts(timeline.failed_after)
        if workers > 1 and failed:
            problems.append(f"with a live sibling, requests failed: {show_counts(failed)}")
        if workers == 1 and set(failed) - {"503"}:
            problems.append(f"failures other than a fast 503: {show_counts(failed)}")
        if watcher[0].seen_after is None:
            problems.append("the supervisor started no new runner worker")
        recovery = _recovery(timeline, RECOVERY_BOUND if workers == 1 else SLACK, problems)
        text += f"; {recovery}; {watcher[0].describe()}"
        return _figure(check, text, problems, target)


# -- c: a runner worker that hangs --------------------------------------------------------------


def runner_stop(run: Run, durations: Durations) -> Figure:
    check = f"SIGSTOP of 1 of 2 runner workers for {durations.stop_for:g} s, then SIGCONT, under load"
    with serve(run, "faults-runner-stop", config(2)) as target:
        wait_runner_workers(target, 2)
        window: list[float] = []

        async def fault(at: float) -> None:
            victim = target.runner_workers()[0].pid
            _kill(victim, signal.SIGSTOP)
            try:
                await asyncio.sleep(durations.stop_for)
            finally:
                _kill(victim, signal.SIGCONT)
            window.append(time.monotonic())
            await asyncio.sleep(durations.after)

        timeline = asyncio.run(_loaded(target, durations, fault))
        bound = SERVER_TIMEOUT + SLACK
        text, problems = _common(timeline, bound)
        failed = counts(timeline.failed_after)
        if set(failed) - {"504"}:
            problems.append(f"failures other than 504 at the deadline: {show_counts(failed)}")
        # the sibling kept answering while the other one hung: successes in every second of it
        stopped = timeline.between(timeline.fault_at, window[0])
        served = [o for o in stopped if o.ok]
        seconds = int(durations.stop_for)
        quiet = [
            k
            for k in range(seconds)
            if not any(timeline.fault_at + k <= o.end < timeline.fault_at + k + 1 for o in served)
        ]
        if quiet:
            problems.append(f"no request answered 200 in second(s) {quiet} of the stop")
        recovery = _recovery(timeline, durations.stop_for + bound, problems)
        text += f"; {len(served)} answered 200 during the stop; {recovery}"
        return _figure(check, text, problems, target)


# -- d: the whole service told to stop -----------------------------------------------------------


async def _readiness(host: str, port: int, until: float, seen: list[tuple[float, str]]) -> None:
    """``GET /readyz`` on a fresh connection every 50 ms: (time, "200" / "503" / "refused")."""
    request = f"GET /readyz HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n".encode()
    while time.monotonic() < until:
        at = time.monotonic()
        try:
            async with asyncio.timeout(1.0):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                head = await reader.read(32)
                writer.close()
            seen.append((at, head[9:12].decode(errors="replace") or "reset"))
        except (OSError, TimeoutError):
            seen.append((at, "refused"))
        await asyncio.sleep(0.05)


def sigterm(run: Run, durations: Durations) -> Figure:
    check = f"SIGTERM of tiffin serve under load (c={CONCURRENCY}, graceful_timeout {GRACEFUL_TIMEOUT:g} s)"
    with serve(run, "faults-sigterm", config()) as target:
        exited: list[float] = []
        probes: list[tuple[float, str]] = []
        server = target.server

        async def fault(at: float) -> None:
            limit = at + GRACEFUL_TIMEOUT + durations.after
            probing = asyncio.create_task(_readiness(target.host, target.port, limit, probes))
            _kill(target.pid, signal.SIGTERM)
            while time.monotonic() < limit:
                if server.proc is not None and server.proc.poll() is not None and not server.survivors():
                    exited.append(time.monotonic() - at)
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # connections made after the exit: refused
            await probing

        timeline = asyncio.run(_loaded(target, Durations(durations.before, 0.0), fault))
        text, problems = _common(timeline, SERVER_TIMEOUT + SLACK)
        at = timeline.fault_at
        in_flight = [o for o in timeline.outcomes if o.start < at <= o.end]
        cut = [o for o in in_flight if not o.ok]
        if cut:
            problems.append(f"requests in flight at SIGTERM did not finish 200: {show_counts(counts(cut))}")
        later = [o for o in timeline.outcomes if o.start >= at]
        reused = counts([o for o in later if not o.fresh])
        if set(reused) - {"200", "503"}:
            problems.append(f"requests on open connections after SIGTERM not answered: {show_counts(reused)}")
        fresh = [o for o in later if o.fresh]
        dropped = [o for o in fresh if o.error == "reset"]
        if any(o.partial for o in dropped) or set(counts(fresh)) - {"200", "503", "refused", "reset"}:
            problems.append(f"new connections after SIGTERM: {show_counts(counts(fresh))}")
        if len(dropped) > CONCURRENCY:
            problems.append(f"{len(dropped)} new connections reset as the listener closed > {CONCURRENCY} clients")
        found = counts(later)
        bound = GRACEFUL_TIMEOUT + SLACK
        if not exited:
            problems.append(f"processes still alive {GRACEFUL_TIMEOUT + durations.after:g} s after SIGTERM")
        elif exited[0] > bound:
            problems.append(f"the process tree took {exited[0]:.2f} s to exit > {bound:g} s")
        after_ready = [kind for t, kind in probes if t >= at + 1.0]
        flipped = next((t - at for t, kind in probes if kind != "200"), None)
        if "200" in after_ready:
            problems.append("/readyz answered 200 more than 1 s after SIGTERM")
        if flipped is None:
            problems.append("/readyz never stopped answering 200")
        probe_kinds = sorted({kind for t, kind in probes if t >= at})
        flip = "never" if flipped is None else f"+{flipped:.2f} s"
        took = "-" if not exited else f"{exited[0]:.2f} s"
        text += (
            f"; {len(in_flight)} in flight at SIGTERM, {len(in_flight) - len(cut)} finished 200; "
            f"after it: {show_counts(found)} ({len(dropped)} reset: new connections the closing listener "
            f"dropped, bound {CONCURRENCY}); /readyz not 200 from {flip} ({'/'.join(probe_kinds)}); "
            f"tree exited in {took} (bound {bound:g} s)"
        )
        return _figure(check, text, problems, target)


def run(run: Run) -> list[Figure]:
    durations = SHORT if run.short else FULL
    figures = [
        api_kill(run, durations),
        runner_kill(run, durations, workers=2),
        runner_kill(run, durations, workers=1),
        runner_stop(run, durations),
        sigterm(run, durations),
    ]
    return figures
