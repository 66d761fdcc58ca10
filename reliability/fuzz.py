"""``fuzz``: seeded hostile bodies to every API; only 4xx (or 2xx for a body that happens to be valid).

Two targets: the default iris service (``POST /classify``) and ``reliability/services/every_io.py``,
one API per input descriptor. Each gets a warm-up (valid bodies and the near-limit ones), then
batches of bodies from ``reliability.fuzz_bodies`` over keep-alive connections, with a
known-good request to every API after each batch. Checked: no 5xx, no connection lost, no hang,
every 4xx a JSON ``{"error": ...}``, the same API worker and runner processes at the end as after
the warm-up, each process's RSS at most ``RSS_BOUND_MB`` above its post-warm-up value, and the
pickle marker file never created. ``TIFFIN_FUZZ_SEED`` changes the bodies (default 15).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs
from reliability.fuzz_bodies import HUGE, HUGE_VALID, PARQUET, Api, Context, hostile, huge, parquet, valid
from reliability.fuzz_client import Answer, Request, send_all
from reliability.report import Figure
from reliability.target import Run, Target, default_config, serve

SECTION = "fuzz"
RSS_BOUND_MB = 50.0
CONCURRENCY = 12
CLIENT_TIMEOUT = 75.0  # the servers' own timeout is 60 s (the default): a longer wait is a hang
SERVER = {"workers": 2, "timeout": 60}
EVERY_IO_LIMIT = 2 * 1024 * 1024
WARM_VALID = 20  # valid bodies per API before the baseline (half in short mode)
WARM_BATCHES = 3  # hostile batches before the baseline (one in short mode)
MB = 1024 * 1024
HELPER = "helper process"

IRIS_PROBE = b"[[5.9, 3.0, 5.1, 1.8]]"


def _is(expected: bytes) -> Any:
    return lambda body: b"".join(body.split()) == expected


IRIS_APIS = (Api("/classify", "iris", _is(b"[2]")),)
EVERY_IO_APIS = (
    Api("/iris", "iris", _is(b"[2]")),
    Api("/ndarray_any", "ndarray"),
    Api("/ndarray_int", "ndarray_int"),
    Api("/json_model", "flower"),
    Api("/json_any", "json"),
    Api("/typed", "typed"),
    Api("/fields", "fields"),
    Api("/image_fields", "image_fields"),
    Api("/text", "text"),
    Api("/frame", "frame"),
    Api("/frame_any", "frame_any"),
    Api("/series", "series"),
    Api("/image", "image"),
    Api("/file", "file"),
    Api("/file_png", "file_png"),
    Api("/multipart", "multipart"),
)


@dataclass(frozen=True)
class Plan:
    name: str
    apis: tuple[Api, ...]
    bodies: int
    batch: int
    max_request_size: int
    config: dict[str, Any]
    service: str | None = None


def plans(short: bool) -> list[Plan]:
    iris_bodies, every_bodies, batch = (1500, 3000, 300) if short else (36_000, 68_000, 1000)
    return [
        Plan("iris", IRIS_APIS, iris_bodies, batch, 20 * MB, default_config(**SERVER)),
        Plan(
            "every-io",
            EVERY_IO_APIS,
            every_bodies,
            batch,
            EVERY_IO_LIMIT,
            {"server": {**SERVER, "max_request_size": EVERY_IO_LIMIT}},
            "reliability/services/every_io.py:svc",
        ),
    ]


@dataclass
class Tally:
    """What the answers were: by status, by family, and every failure kept (a few in full)."""

    sent: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    by_family: dict[str, Counter[str]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)  # 5xx, reset, timeout, non-json-4xx, other
    examples: list[str] = field(default_factory=list)
    kept: list[Answer] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        self.sent += 1
        request = answer.request
        outcome = _outcome(answer)
        self.by_family.setdefault(request.tag, Counter())[outcome if outcome != "ok" else str(answer.status)] += 1
        if answer.status:
            self.statuses[answer.status] += 1
        if outcome != "ok":
            self.failures[outcome] += 1
            if len(self.examples) < 12:
                self.examples.append(_example(answer, outcome))
                self.kept.append(answer)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def _outcome(answer: Answer) -> str:
    if answer.failure is not None:
        return answer.failure
    if answer.status >= 500:
        return "5xx"
    if 400 <= answer.status < 500:
        try:
            body = json.loads(answer.body)
        except ValueError:
            return "non-json-4xx"
        return "ok" if isinstance(body, dict) and isinstance(body.get("error"), str) else "non-json-4xx"
    return "ok" if 200 <= answer.status < 300 else "other"


def _example(answer: Answer, outcome: str) -> str:
    request = answer.request
    head = dict(request.headers).get("Content-Type")
    return (
        f"{outcome} {answer.status} {request.path} [{request.tag}] content-type={head!r} "
        f"body[:80]={request.body[:80]!r} ({len(request.body)} B) answer={answer.body[:200]!r}"
    )


@dataclass
class Snapshot:
    rss: dict[int, int]  # pid -> bytes
    ident: dict[int, int]  # pid -> start ticks
    roles: dict[int, str]
    api_workers: set[int]
    runners: set[int]


def snapshot(target: Target) -> Snapshot:
    tree = target.tree()
    return Snapshot(
        rss={p.pid: p.rss_bytes for p in tree},
        ident={p.pid: p.start_ticks for p in tree},
        roles={p.pid: _role(p.pid, target) for p in tree},
        api_workers={p.pid for p in target.api_workers()},
        runners={p.pid for p in target.runner_workers()},
    )


def _role(pid: int, target: Target) -> str:
    words = procs.cmdline(pid).split()
    if "--spec" in words and "runner" in words:
        return f"runner {words[words.index('runner') + 1]}" if words.index("runner") + 1 < len(words) else "runner"
    if pid == target.pid:
        return "tiffin serve"
    if any(word.startswith("multiprocessing.") or "multiprocessing." in word for word in words):
        return HELPER  # app.io.parquet's reader (forkserver, its child) or multiprocessing's resource tracker
    if pid in {p.pid for p in target.api_workers()}:
        return "API worker"
    return " ".join(words[:3])[:40] or "process"


def known_good(target: Target, apis: Sequence[Api], rng: random.Random) -> list[str]:
    """One valid body to every API: the problems (empty when every one answered 200 correctly)."""
    requests = []
    for api in apis:
        if api.kind == "iris":
            requests.append(Request(api.path, IRIS_PROBE, (("Content-Type", "application/json"),), "known-good"))
            continue
        content_type, data, headers = valid(rng, api)
        requests.append(Request(api.path, data, (("Content-Type", str(content_type)), *headers), "known-good"))
    problems = []
    for answer in send_all(target.host, target.port, requests, concurrency=4, timeout=CLIENT_TIMEOUT):
        api = next(a for a in apis if a.path == answer.request.path)
        right = answer.status == 200 and (api.expect is None or api.expect(answer.body))
        if not right:
            problems.append(f"{api.path}: {answer.failure or answer.status} {answer.body[:200]!r}")
    return problems


def warm_up(target: Target, plan: Plan, ctx: Context, seed: str, run_short: bool) -> None:
    """What a process keeps for good comes before the baseline: the lazy imports (pandas, pyarrow,
    Pillow) in both API workers, the near-limit bodies, the allocator's high water of a batch."""
    rng = random.Random(f"{seed}-{plan.name}-warm")
    requests = []
    for api in plan.apis:
        for _ in range(WARM_VALID // 2 if run_short else WARM_VALID):
            content_type, data, headers = valid(rng, api)
            requests.append(Request(api.path, data, (("Content-Type", str(content_type)), *headers), "warm"))
    rng.shuffle(requests)
    for api in plan.apis:
        for key in ("json-over", "npy-short-under") if run_short else (*HUGE_VALID, *HUGE):
            content_type, data, _ = huge(ctx, key)
            requests.append(Request(api.path, data, (("Content-Type", str(content_type)),), "warm"))
    send_all(target.host, target.port, requests, concurrency=CONCURRENCY, timeout=CLIENT_TIMEOUT)
    for index in range(1 if run_short else WARM_BATCHES):
        batch_rng = random.Random(f"{seed}-{plan.name}-warm-{index}")
        batch = [hostile(batch_rng, batch_rng.choice(plan.apis), ctx) for _ in range(plan.batch)]
        send_all(target.host, target.port, batch, concurrency=CONCURRENCY, timeout=CLIENT_TIMEOUT)
    # A Parquet reader helper that a warm-up body crashed was replaced: let the new ones read too.
    last = [Request(api.path, parquet(rng), (("Content-Type", PARQUET),), "warm")
            for api in plan.apis if api.kind == "frame" for _ in range(16)]
    send_all(target.host, target.port, last, concurrency=CONCURRENCY, timeout=CLIENT_TIMEOUT)


def fuzz_target(run: Run, plan: Plan, seed: str) -> list[Figure]:
    marker = run.work / f"fuzz-{plan.name}-unpickled"
    ctx = Context(marker=marker, max_request_size=plan.max_request_size, cache={})
    tally = Tally()
    good_checks = 0
    good_problems: list[str] = []
    with serve(run, f"fuzz-{plan.name}", plan.config, service=plan.service) as target:
        started = time.monotonic()
        warm_up(target, plan, ctx, seed, run.short)
        print(f"reliability: fuzz {plan.name}: warm-up {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
        before = snapshot(target)
        peak = dict(before.rss)
        batches = -(-plan.bodies // plan.batch)
        for index in range(batches):
            rng = random.Random(f"{seed}-{plan.name}-{index}")
            size = min(plan.batch, plan.bodies - index * plan.batch)
            batch = [hostile(rng, rng.choice(plan.apis), ctx) for _ in range(size)]
            started = time.monotonic()
            for answer in send_all(target.host, target.port, batch, concurrency=CONCURRENCY, timeout=CLIENT_TIMEOUT):
                tally.add(answer)
            tally.seconds += time.monotonic() - started
            good_checks += len(plan.apis)
            good_problems += [f"after batch {index}: {p}" for p in known_good(target, plan.apis, rng)]
            for info in target.tree():
                peak[info.pid] = max(peak.get(info.pid, 0), info.rss_bytes)
        after = snapshot(target)
        for pid, sampled in dict(target.server.memory.per_process_peak).items():  # a C copy: atomic
            peak[pid] = max(peak.get(pid, 0), sampled)
        alive = target.alive()
        log = target.log_tail(25)
    keep(tally.kept, plan.name)
    label = "the default iris service" if plan.service is None else "every_io.py"
    return [
        _answers_figure(plan, label, tally, log),
        _json_errors_figure(plan, label, tally),
        Figure(
            SECTION,
            f"{label}: a known-good request to every API after each batch",
            f"{good_checks - len(good_problems)}/{good_checks} answered 200 correctly",
            not good_problems,
            "; ".join(good_problems[:8]),
        ),
        _processes_figure(label, before, after, alive, log),
        _memory_figure(label, before, after, peak),
        _pickle_figure(label, tally, marker.exists()),
    ]


def keep(answers: Sequence[Answer], name: str) -> None:
    """Write the failed requests to ``$TIFFIN_FUZZ_KEEP`` (if set), to replay them."""
    directory = os.environ.get("TIFFIN_FUZZ_KEEP")
    if not directory:
        return
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for i, answer in enumerate(answers):
        request = answer.request
        (out / f"{name}-{i}.body").write_bytes(request.body)
        meta = {"path": request.path, "headers": request.headers, "tag": request.tag, "status": answer.status,
                "answer": answer.body[:2000].decode("utf-8", "replace")}
        (out / f"{name}-{i}.json").write_text(json.dumps(meta, indent=1))


def _answers_figure(plan: Plan, label: str, tally: Tally, log: str) -> Figure:
    statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.statuses.items()))
    ok_2xx = sum(n for s, n in tally.statuses.items() if 200 <= s < 300)
    fails = tally.failures
    figure = (
        f"{tally.sent:,} bodies at {tally.rate:,.0f}/s over {CONCURRENCY} connections "
        f"({len(plan.apis)} API{'s' if len(plan.apis) > 1 else ''}): 2xx {ok_2xx:,} (valid bodies), "
        f"4xx {sum(n for s, n in tally.statuses.items() if 400 <= s < 500):,}, "
        f"5xx {fails['5xx']}, lost {fails['reset']}, hangs {fails['timeout']} (by status: {statuses})"
    )
    families = "; ".join(f"{f}: {dict(sorted(c.items()))}" for f, c in sorted(tally.by_family.items()))
    passed = tally.sent == plan.bodies and not (fails["5xx"] or fails["reset"] or fails["timeout"] or fails["other"])
    detail = f"by family: {families}"
    if not passed:
        detail = f"{' | '.join(tally.examples)} | server log: {log} | {detail}"
    return Figure(SECTION, f"{plan.bodies:,} fuzzed bodies to {label}", figure, passed, detail)


def _json_errors_figure(plan: Plan, label: str, tally: Tally) -> Figure:
    four = sum(n for s, n in tally.statuses.items() if 400 <= s < 500)
    bad = tally.failures["non-json-4xx"]
    examples = [e for e in tally.examples if e.startswith("non-json")]
    return Figure(
        SECTION, f"{label}: every 4xx is a JSON {{\"error\": ...}}", f"{four - bad:,}/{four:,}", bad == 0 and four > 0,
        " | ".join(examples),
    )


def _processes_figure(label: str, before: Snapshot, after: Snapshot, alive: bool, log: str) -> Figure:
    same_workers = before.api_workers == after.api_workers and bool(after.api_workers)
    same_runners = before.runners == after.runners and bool(after.runners)
    new = sorted(p for p in after.ident if p not in before.ident or before.ident[p] != after.ident[p])
    helpers = [p for p in new if after.roles.get(p) == HELPER]
    restarted = [p for p in new if p not in helpers]
    passed = alive and same_workers and same_runners and not restarted
    figure = (
        f"{len(after.api_workers)} API workers, {len(after.runners)} runner process"
        f"{'es' if len(after.runners) != 1 else ''}: "
        f"{'same pids' if same_workers and same_runners else 'pids changed'}; "
        f"{len(restarted)} other processes new since the warm-up; "
        f"{len(helpers)} new Parquet reader helpers (each replaces one a body crashed)"
    )
    detail = "" if passed else (
        f"workers {sorted(before.api_workers)} -> {sorted(after.api_workers)}, runners {sorted(before.runners)} -> "
        f"{sorted(after.runners)}, new {restarted}, alive {alive}; log: {log}"
    )
    return Figure(SECTION, f"{label}: no worker or runner died or restarted", figure, passed, detail)


def _memory_figure(label: str, before: Snapshot, after: Snapshot, peak: dict[int, int]) -> Figure:
    rows = []
    worst = (0.0, "")
    for pid in sorted(before.rss):
        start, end = before.rss[pid] / MB, after.rss.get(pid, 0) / MB
        growth = end - start if pid in after.rss else 0.0
        role = before.roles.get(pid, "process")
        top = peak.get(pid, 0) / MB
        rows.append(f"{role} {pid}: start {start:.0f} MB, end {end:.0f} MB, peak {top:.0f} MB (whole run)")
        if growth >= worst[0] or not worst[1]:
            worst = (growth, f"{role} {pid}")
    tree_start = sum(before.rss.values()) / MB
    tree_end = sum(after.rss.values()) / MB
    figure = (
        f"largest growth {worst[0]:+.1f} MB ({worst[1]}), bound {RSS_BOUND_MB:.0f} MB per process; "
        f"tree {tree_start:.0f} → {tree_end:.0f} MB"
    )
    return Figure(
        SECTION, f"{label}: RSS growth of every process after the warm-up", figure, worst[0] <= RSS_BOUND_MB,
        "; ".join(rows),
    )


def _pickle_figure(label: str, tally: Tally, exists: bool) -> Figure:
    sent = sum(tally.by_family.get("pickle", Counter()).values())
    return Figure(
        SECTION,
        f"{label}: pickles (protocols 0–5, one that would create a file) are never unpickled",
        f"{sent:,} pickle bodies, marker file {'CREATED' if exists else 'absent'}",
        not exists and sent > 0,
    )


def run(run: Run) -> list[Figure]:
    seed = os.environ.get("TIFFIN_FUZZ_SEED", "15")
    figures: list[Figure] = []
    total = 0
    for plan in plans(run.short):
        started = time.monotonic()
        figures += fuzz_target(run, plan, seed)
        total += plan.bodies
        print(f"reliability: fuzz {plan.name} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    need = 4_000 if run.short else 100_000
    figures.append(
        Figure(SECTION, f"fuzzed bodies in all (at least {need:,})", f"{total:,} bodies, seed {seed}", total >= need)
    )
    return figures
