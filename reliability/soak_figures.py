"""What the soak observed, and the figures (with their bounds) made of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from reliability.report import Figure
from reliability.soak_load import Tally
from reliability.soak_metrics import Counts, delta
from reliability.soak_procs import MB, ProcSample, fit

SECTION = "soak"
PER = 1_000_000  # RSS trends are given per 10⁶ requests


@dataclass
class Observed:
    requests: int
    cap_s: int
    rss_bound_mb: float
    connections: int
    timeout_s: int
    roles: dict[int, str]
    load_start: float
    tally: Tally = field(default_factory=Tally)
    samples: list[tuple[int, dict[int, ProcSample]]] = field(default_factory=list)  # (requests sent, snapshot)
    capped: bool = False
    broken: str = ""  # why the soak stopped early, when it did
    elapsed_s: float = 0.0
    load_end: float = 0.0
    counts: tuple[Counts, Counts] | None = None
    clients_left: int = 0
    roles_after: dict[int, str] = field(default_factory=dict)
    peaks: dict[int, int] = field(default_factory=dict)
    ready: int = 0


def figures(seen: Observed) -> list[Figure]:
    found = [volume(seen), answers(seen), lost(seen), exact(seen), hangs(seen), same_processes(seen)]
    for pid, role in seen.roles.items():
        found += [rss(seen, pid, role), fds(seen, pid, role)]
    return found


def volume(seen: Observed) -> Figure:
    t = seen.tally
    cap = f"{seen.cap_s // 60} min" if seen.cap_s >= 120 else f"{seen.cap_s} s"
    stop = seen.broken or (f"stopped by the {cap} time cap" if seen.capped else "stopped by the count")
    return Figure(
        SECTION,
        f"{seen.requests:,} requests to POST /classify at c={seen.connections} after a warm-up "
        f"(wrk, segments, cap {cap})",
        f"{t.sent:,} sent in {t.runs} segments, {seen.elapsed_s:.0f} s, {t.rate():.0f} req/s; {stop}; "
        f"load average {seen.load_start:.1f} → {seen.load_end:.1f} (2 CPUs, shared)",
        t.sent >= seen.requests,
        "" if t.sent >= seen.requests else f"only {t.sent:,} of {seen.requests:,} requests: {stop}",
    )


def answers(seen: Observed) -> Figure:
    t, c = seen.tally, seen.tally.by_class
    others = c["s2xx"] - t.ok - t.mismatches
    passed = t.answered > 0 and t.ok == t.answered
    return Figure(
        SECTION,
        "every answer wrk saw is 200 with the body [2]",
        f"{t.answered:,} answered: {t.ok:,} 200 [2], {t.mismatches} wrong bodies, {others} other 2xx, "
        f"{c['s3xx']} 3xx, {c['s4xx']} 4xx, {c['s5xx']} 5xx, {c['sother']} other",
        passed,
        "" if passed else f"statuses {sorted(t.statuses)}; first: {' | '.join(t.samples)}",
    )


def lost(seen: Observed) -> Figure:
    t = seen.tally
    server = _moved(seen)
    served = sum(server.values())
    errors = {k: t.errors[k] for k in ("connect", "read", "write")}
    cut_bound = seen.connections * t.runs
    passed = not any(errors.values()) and served == t.sent and 0 <= t.unanswered <= cut_bound
    return Figure(
        SECTION,
        "no request lost: every request written was answered by the server",
        f"{t.sent - served:,} lost: {errors['connect']} connect, {errors['read']} read, {errors['write']} write "
        f"errors; of {t.sent:,} sent, wrk saw {t.answered:,} answered and {t.unanswered} in flight when a "
        f"segment's time ran out (bound {seen.connections} × {t.runs} segments), which the server answered too "
        f"({served:,} counted)",
        passed,
    )


def exact(seen: Observed) -> Figure:
    t = seen.tally
    server = _moved(seen)
    ok = server.get("200", 0)
    histogram = seen.counts[1].histogram - seen.counts[0].histogram if seen.counts else 0
    others = {code: n for code, n in server.items() if code != "200"}
    passed = ok == t.sent and histogram == t.sent and not others
    return Figure(
        SECTION,
        'tiffin_http_requests_total{endpoint="/classify",method="POST"} counts exactly what was sent',
        f'status="200" rose by {ok:,} for {t.sent:,} sent (difference {ok - t.sent}); '
        f"the duration histogram's count by {histogram:,}; other statuses {others or 'none'}",
        passed,
    )


def hangs(seen: Observed) -> Figure:
    t = seen.tally
    in_progress = seen.counts[1].in_progress if seen.counts else -1
    passed = t.errors["timeout"] == 0 and in_progress == 0 and seen.clients_left == 0
    return Figure(
        SECTION,
        f"no hang: no answer later than wrk's {seen.timeout_s} s timeout, nothing left running",
        f"{t.errors['timeout']} timeouts; slowest answer {t.latency_max_us / 1000:.0f} ms, worst segment p99 "
        f"{t.p99_max_us / 1000:.0f} ms; after the load {in_progress} requests in progress "
        f"(tiffin_http_requests_in_progress), {seen.clients_left} client connections left open",
        passed,
    )


def same_processes(seen: Observed) -> Figure:
    names = ", ".join(sorted(seen.roles.values()))
    gone = sorted(set(seen.roles) - set(seen.roles_after))
    new = sorted(set(seen.roles_after) - set(seen.roles))
    passed = not gone and not new and seen.ready == 200
    kept = len(seen.roles) - len(gone)
    return Figure(
        SECTION,
        "no process died or was replaced during the soak",
        f"{kept} of the {len(seen.roles)} pids ({names}) alive from the start to the end, {len(gone)} gone "
        f"{gone}, {len(new)} new {new}; /readyz {seen.ready} after",
        passed,
        "" if passed else f"start {seen.roles}, end {seen.roles_after}",
    )


def rss(seen: Observed, pid: int, role: str) -> Figure:
    points = [(sent, snap[pid].rss_bytes) for sent, snap in seen.samples if pid in snap]
    check = f"RSS of the {role} (pid {pid}) does not grow"
    if len(points) < 3:
        return Figure(SECTION, check, f"{len(points)} samples, too few for a trend (did it die?)", False)
    trend = fit([float(x) for x, _ in points], [float(y) for _, y in points])
    window = points[-1][0] - points[0][0]
    fitted_mb = trend.slope * window / MB
    growth_mb = (points[-1][1] - points[0][1]) / MB
    t_value = trend.slope / trend.stderr if trend.stderr else 0.0
    passed = fitted_mb <= seen.rss_bound_mb and growth_mb <= seen.rss_bound_mb
    peak = seen.peaks.get(pid, 0) / MB
    return Figure(
        SECTION,
        check,
        f"{points[0][1] / MB:.1f} → {points[-1][1] / MB:.1f} MB ({growth_mb:+.2f}; peak {peak:.1f}); trend "
        f"{trend.slope * PER / MB:+.2f} ± {trend.stderr * PER / MB:.2f} MB per 10⁶ requests (t = {t_value:.1f}, "
        f"{trend.points} samples), {fitted_mb:+.2f} MB over the {window:,}; bound {seen.rss_bound_mb:g} MB",
        passed,
    )


def fds(seen: Observed, pid: int, role: str) -> Figure:
    snaps = [snap[pid] for _, snap in seen.samples if pid in snap]
    check = f"open descriptors of the {role} (pid {pid}) do not leak"
    if len(snaps) < 2:
        return Figure(SECTION, check, f"{len(snaps)} samples, too few to compare (did it die?)", False)
    first, last = snaps[0], snaps[-1]
    steady = [s.steady for s in snaps]
    keepalive = max(s.keepalive for s in snaps)
    clients = max(s.clients for s in snaps)
    passed = first.steady == last.steady and keepalive <= seen.connections and clients == 0
    return Figure(
        SECTION,
        check,
        f"{first.fds} → {last.fds} fds: steady (files, pipes, listeners) {first.steady} → {last.steady} "
        f"(range {min(steady)}–{max(steady)}, must not move), keep-alive connections {first.keepalive} → "
        f"{last.keepalive} (at most {keepalive}, bound c={seen.connections}), client connections left "
        f"{clients}",
        passed,
    )


def _moved(seen: Observed) -> dict[str, int]:
    return delta(seen.counts[1], seen.counts[0]) if seen.counts else {}
