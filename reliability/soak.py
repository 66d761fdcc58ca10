"""Soak: the default iris service under ``POST /classify`` at c=16 for 10⁶ requests (short: 20,000).

After a warm-up, wrk runs in segments until the count is reached or the time cap passes. Before
the first segment and after each one (its connections closed), every process of the tree is
sampled: RSS and open descriptors (``reliability.soak_procs``). The figures: what was sent and
answered (by status, body checked), what was lost or hung, the server's own counter against the
client's count, and per process the RSS trend (least squares over the samples) and the
descriptors from start to end.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from bench.server import http_request
from reliability import soak_metrics
from reliability.report import Figure
from reliability.soak_figures import Observed, figures
from reliability.soak_load import Load, Tally
from reliability.soak_procs import clients_left, roles, snapshot
from reliability.target import Run, Target, serve

BODY = b"[[5.9,3.0,5.1,1.8]]"
EXPECTED = b"[2]"


@dataclass(frozen=True)
class Plan:
    requests: int  # after the warm-up
    warmup: int
    segment_s: int
    cap_s: int  # the soak stops here even short of ``requests``
    rss_bound_mb: float  # allowed growth of any process over the soak


FULL = Plan(requests=1_000_000, warmup=20_000, segment_s=30, cap_s=40 * 60, rss_bound_mb=5.0)
SHORT = Plan(requests=20_000, warmup=3_000, segment_s=3, cap_s=120, rss_bound_mb=2.0)


def run(run: Run) -> list[Figure]:
    plan = SHORT if run.short else FULL
    with serve(run, "soak") as target:
        target.server.check_answer(BODY, EXPECTED)
        return figures(soak(target, plan, Load(target.url + "/classify", BODY, EXPECTED, run.work / "soak")))


def soak(target: Target, plan: Plan, load: Load) -> Observed:
    known = roles(target)
    warm = Tally()
    while warm.answered < plan.warmup and warm.runs < 20:
        warm.add(load.run(1))
    settle(target, known)
    before = soak_metrics.settled(target.host, target.port)
    seen = Observed(
        requests=plan.requests,
        cap_s=plan.cap_s,
        rss_bound_mb=plan.rss_bound_mb,
        connections=load.connections,
        timeout_s=load.timeout_s,
        roles=known,
        load_start=os.getloadavg()[0],
    )
    seen.samples.append((0, snapshot(target, known)))
    started = time.monotonic()
    rate = warm.rate() or 100.0
    while seen.tally.sent < plan.requests:
        left_s = plan.cap_s - (time.monotonic() - started)
        if left_s < 1:
            seen.capped = True
            break
        wanted = math.ceil((plan.requests - seen.tally.sent) / rate)
        raw = load.run(max(1, min(plan.segment_s, wanted, int(left_s))))
        seen.tally.add(raw)
        if not raw["answered"] or not target.alive():  # nothing more to learn by waiting for the cap
            seen.broken = "the server stopped answering" if target.alive() else "the server exited"
            break
        rate = seen.tally.rate() or rate
        settle(target, known)
        seen.samples.append((seen.tally.sent, snapshot(target, known)))
    seen.elapsed_s = time.monotonic() - started
    seen.load_end = os.getloadavg()[0]
    seen.counts = (before, soak_metrics.settled(target.host, target.port))
    seen.clients_left = clients_left(target, known)
    seen.roles_after = roles(target)
    seen.peaks = dict(target.server.memory.per_process_peak)
    seen.ready = _ready(target)
    return seen


def settle(target: Target, known: dict[int, str], timeout: float = 5.0) -> None:
    """Wait until the server has closed every connection wrk left (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while clients_left(target, known) and time.monotonic() < deadline:
        time.sleep(0.05)


def _ready(target: Target) -> int:
    try:
        return http_request(target.host, target.port, "GET", "/readyz")[0]
    except OSError:
        return 0
