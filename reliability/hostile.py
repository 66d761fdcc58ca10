"""Slow and hostile clients against ``tiffin serve`` while a good client keeps asking.

Each attack opens its connections at once (``reliability.hostile_clients``) while the probe
(``reliability.hostile_probe``) sends ``POST /classify`` on new connections. An attack passes
when every attacker got the answer the limits promise (a status, or a close) at the time they
promise (the configured timeout, or at once for a size limit), none hung, and the probe lost no
request and kept its p99 under max(10 x its quiet p99, 250 ms). Then all attacks run at once
(the probe's bound doubled: it is every attack's load together), and at the end the server must
have answered no 5xx since it was ready and lost no worker.
"""

from __future__ import annotations

import asyncio
import resource
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from app.process.http_limits import LINGER_BYTES
from reliability import hostile_clients as clients
from reliability.hostile_clients import Outcome, Script
from reliability.hostile_probe import Probe, Window, ms
from reliability.report import Figure
from reliability.target import Run, Target, default_config, serve

SECTION = "hostile"
MiB = 1024 * 1024
IMMEDIATE = 2.0  # seconds: a size limit answers at the head, at once


@dataclass(frozen=True)
class Limits:
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    timeout: float
    max_request_size: int = 20 * MiB
    max_header_size: int = 32 * 1024
    max_headers: int = 100

    def yaml(self) -> dict[str, object]:
        return {
            "header_timeout": self.header_timeout,
            "body_timeout": self.body_timeout,
            "keepalive_timeout": self.keepalive_timeout,
            "timeout": self.timeout,
            "max_request_size": self.max_request_size,
            "max_header_size": self.max_header_size,
            "max_headers": self.max_headers,
        }


SHORT = Limits(header_timeout=2, body_timeout=2, keepalive_timeout=2, timeout=3)
FULL = Limits(header_timeout=10, body_timeout=30, keepalive_timeout=5, timeout=60)  # the defaults


@dataclass(frozen=True)
class Attack:
    check: str  # what the attackers do, for the table
    script: Script
    count: int
    status: int | None  # what each must get; None: a close with no answer
    after: float | None  # the configured timeout it must get it at; None: at once
    setting: str  # the YAML key that decides
    from_answer: bool = False  # time the close from the answer (keep-alive), not from connecting
    max_sent: int | None = None  # refused once it has sent this much, whenever that is (not at once)

    def time_of(self, outcome: Outcome) -> float | None:
        if self.status is not None and self.after is None:
            return outcome.answered_after
        if outcome.closed_after is None:
            return None
        if self.from_answer:
            return outcome.closed_after - (outcome.answered_after or 0.0)
        return outcome.closed_after

    def judge(self, outcome: Outcome, *, crowded: bool = False) -> str | None:
        """Why ``outcome`` breaks the promise, or None.

        ``crowded``: every attack at once, thousands of connections on our one event loop, whose
        reads come late; the times get wider bounds, the statuses and closes none."""
        immediate = 3 * IMMEDIATE if crowded else IMMEDIATE
        # crowded, an answer is read late too: a close timed from it may seem up to a second early
        early, late = (0.6, 3.0) if crowded else (0.9, 1.0)
        if outcome.error is not None:
            return outcome.error
        if outcome.hung:
            return "still open at give-up (a hang)"
        wanted = self.status if not self.from_answer else 200
        if outcome.status != wanted:
            return f"got {outcome.status or 'a close'} instead of {wanted or 'a close'}"
        took = self.time_of(outcome)
        assert took is not None
        if self.max_sent is not None:
            if outcome.sent > self.max_sent:
                return f"wrote {outcome.sent / MiB:.0f} MiB before the answer, over {self.max_sent / MiB:.0f} MiB"
        elif self.after is None:
            if took > immediate:
                return f"answered after {took:.2f} s, not at once"
            if outcome.closed_after is not None and outcome.closed_after > immediate + 3:
                return f"closed {outcome.closed_after:.1f} s after, not at once"
        elif not early * self.after - 0.05 <= took <= 1.5 * self.after + late:
            return f"after {took:.2f} s, not near {self.setting} {self.after:g} s"
        return None

    @property
    def give_up(self) -> float:
        return 2 * (self.after or IMMEDIATE) + 10


def attacks(limits: Limits, short: bool) -> list[Attack]:
    def n(short_count: int, full_count: int) -> int:
        return short_count if short else full_count

    head, body, idle = limits.header_timeout, limits.body_timeout, limits.keepalive_timeout
    return [
        Attack(f"slowloris: {n(200, 1000)} connections, a header line every {head / 4:g} s, never a whole head",
               clients.slowloris(head / 4), n(200, 1000), 408, head, "header_timeout"),
        Attack(f"{n(100, 500)} connections that send nothing", clients.silent(), n(100, 500), None, head,
               "header_timeout"),
        Attack(f"{n(100, 500)} keep-alive connections held idle after one answer", clients.idle_after_answer(),
               n(100, 500), None, idle, "keepalive_timeout", from_answer=True),
        Attack(f"{n(20, 200)} bodies that stop: 5 of 1,000 declared bytes, then silence", clients.stalled_body(),
               n(20, 200), 408, body, "body_timeout"),
        Attack(f"{n(10, 50)} bodies that never end: a byte every {body / 3:.2g} s, never a gap of body_timeout",
               clients.drip_body(body / 3), n(10, 50), 408, limits.timeout, "timeout"),
        Attack(f"{n(4, 8)} endless chunked bodies, as fast as the server reads",
               clients.endless_chunked(), n(4, 8), 413, None, "max_request_size",
               max_sent=2 * limits.max_request_size + LINGER_BYTES + 16 * MiB),  # read, lingered, kernel buffers
        Attack(f"{n(10, 50)} chunked bodies whose trailer line never ends, as fast as the server reads",
               clients.endless_trailer(), n(10, 50), 431, None, "max_header_size"),
        Attack(f"{n(10, 50)} declared 2 GB bodies, then body bytes as fast as the server reads",
               clients.declared_huge(), n(10, 50), 413, None, "max_request_size"),
        Attack(f"{n(20, 200)} heads with a 64 KB header line", clients.long_header_line(64 * 1024),
               n(20, 200), 431, None, "max_header_size"),
        Attack(f"{n(20, 200)} heads with 1,000 header lines", clients.many_headers(1000), n(20, 200), 431, None,
               "max_headers"),
        Attack(f"{n(20, 200)} requests with a 64 KB URL", clients.long_url(64 * 1024), n(20, 200), 414, None,
               "max_header_size"),
    ]  # fmt: skip


def run(run: Run) -> list[Figure]:
    limits = SHORT if run.short else FULL
    chosen = attacks(limits, run.short)
    raise_fd_limit(2 * sum(a.count for a in chosen) + 512)  # ours and the server's, which inherits it
    figures: list[Figure] = []
    with serve(run, SECTION, default_config(**limits.yaml())) as target:
        workers = {p.pid for p in target.api_workers()}
        before = answers(target)
        probe = Probe(target.host, target.port)
        probe.start()
        try:
            with probe.window() as quiet:
                time.sleep(2 if run.short else 10)
            bound = max(10 * quiet.p99, 0.25)
            figures.append(
                Figure(
                    SECTION,
                    "quiet baseline: the probe alone, POST /classify on a new connection every 10 ms",
                    quiet.summary(),
                    quiet.count >= 20 and not quiet.failures,
                )  # fmt: skip
            )
            for attack in chosen:
                with probe.window() as window:
                    started = time.monotonic()
                    outcomes = asyncio.run(clients.many(target.host, target.port, attack.script, attack.count,
                                                        give_up=attack.give_up))  # fmt: skip
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))  # some probes in the window
                figures.append(figure(attack, outcomes, window, bound))
            with probe.window() as window:
                together = asyncio.run(all_at_once(target, chosen))
            figures.append(together_figure(chosen, together, window, 2 * bound))  # every attack's load at once
        finally:
            probe.stop()
        figures.append(server_figure(target, workers, before))
    return figures


async def all_at_once(target: Target, chosen: Sequence[Attack]) -> list[list[Outcome]]:
    runs = [clients.many(target.host, target.port, a.script, a.count, give_up=a.give_up) for a in chosen]
    return list(await asyncio.gather(*runs))


def figure(attack: Attack, outcomes: Sequence[Outcome], window: Window, bound: float) -> Figure:
    wrong = [why for why in map(attack.judge, outcomes) if why is not None]
    times = [t for t in map(attack.time_of, outcomes) if t is not None]
    spread = f"{min(times):.2f}–{max(times):.2f} s" if times else "no time"
    wanted = f"{attack.status}" if attack.status is not None else "a close"
    if attack.after is not None:
        promise = f"{attack.setting} {attack.after:g} s"
    elif attack.max_sent is not None:
        promise = f"once over {attack.setting}"
    else:
        promise = f"at once, {attack.setting}"
    text = f"{len(outcomes) - len(wrong)}/{len(outcomes)} got {wanted} after {spread} ({promise})"
    if attack.status == 413:
        text += f", each wrote ≤ {max(o.sent for o in outcomes) / MiB:.1f} MiB before the close"
    text += f"; probe: {window.summary()} (bound {ms(bound)})"
    passed = not wrong and probe_ok(window, bound)
    detail = "; ".join(sorted(set(wrong))[:5])
    return Figure(SECTION, attack.check, text, passed, detail)


def together_figure(chosen: Sequence[Attack], results: Sequence[Sequence[Outcome]], window: Window,
                    bound: float) -> Figure:  # fmt: skip
    total = sum(len(r) for r in results)
    wrong = [f"{attack.setting}: {why}" for attack, outcomes in zip(chosen, results, strict=True)
             for why in (attack.judge(o, crowded=True) for o in outcomes) if why is not None]  # fmt: skip
    text = f"{total - len(wrong)}/{total} attackers got what they should; probe: {window.summary()} "
    text += f"(bound {ms(bound)}, twice an attack's)"
    return Figure(SECTION, f"all {len(chosen)} attacks at once ({total} connections)", text,
                  not wrong and probe_ok(window, bound), "; ".join(sorted(set(wrong))[:5]))  # fmt: skip


def probe_ok(window: Window, bound: float) -> bool:
    return window.count > 0 and not window.failures and window.p99 <= bound


def answers(target: Target) -> tuple[float, float]:
    """All answers the app has counted (``tiffin_http_requests_total``), and the 5xx among them."""
    with urllib.request.urlopen(target.url + "/metrics", timeout=10) as response:  # noqa: S310 - our own 127.0.0.1
        text = response.read().decode()
    answered, server_errors = 0.0, 0.0
    for line in text.splitlines():
        if line.startswith("tiffin_http_requests_total{"):
            value = float(line.rsplit(" ", 1)[1])
            answered += value
            if 'status="5' in line:
                server_errors += value
    return answered, server_errors


def server_figure(target: Target, workers: set[int], before: tuple[float, float]) -> Figure:
    """Counted from ready on: /readyz answers 503 while the server starts, as it should."""
    after = answers(target)
    answered, server_errors = after[0] - before[0], after[1] - before[1]
    now = {p.pid for p in target.api_workers()}
    alive = target.alive() and now == workers
    figure = f"{server_errors:.0f} 5xx of {answered:.0f} answers the app counted; API workers {len(now)}, "
    figure += "none replaced" if now == workers else f"replaced: {sorted(workers - now)}"
    check = "the server after every attack (its /metrics since ready, its worker processes)"
    passed = alive and server_errors == 0 and answered > 0
    return Figure(SECTION, check, figure, passed, "" if alive else target.log_tail())


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards ``wanted`` (the hard limit caps it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft
