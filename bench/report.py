"""Turn run records into medians, ratios to the baseline, target verdicts and a Markdown report.

A run record is the JSON-ready dict the harness writes for one start of one server with one
model: ``{"run", "model", "server", "ok", "error", "ready_s", "tree_rss_mb", "worker_rss_mb",
"workers", "points": {point_key: {"rps", "p50_ms", "p99_ms", ...}}}``. Everything here is pure.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.config import BASELINE, SUBJECT, ModelSpec, Target

LOAD_METRICS = ("rps", "p50_ms", "p99_ms")
START_METRICS = ("ready_s", "tree_rss_mb", "worker_rss_mb", "workers")


@dataclass
class Summary:
    """Medians over the runs of one server with one model."""

    model: str
    server: str
    runs: int = 0
    failed_runs: int = 0
    errors: list[str] = field(default_factory=list)
    start: dict[str, float] = field(default_factory=dict)
    points: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed_runs == 0 and self.runs > 0


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str], Summary]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault((record["model"], record["server"]), []).append(record)
    summaries = {}
    for (model, server), group in grouped.items():
        summary = Summary(model, server, runs=len(group))
        summary.failed_runs = sum(1 for r in group if not r["ok"])
        summary.errors = [f"run {r['run']}: {r['error']}" for r in group if r.get("error")]
        for metric in START_METRICS:
            value = median(r.get(metric) for r in group)
            if value is not None:
                summary.start[metric] = value
        keys = dict.fromkeys(key for r in group for key in r.get("points", {}))
        for key in keys:
            measured = [r["points"][key] for r in group if key in r.get("points", {})]
            summary.points[key] = {m: statistics.median(p[m] for p in measured) for m in LOAD_METRICS}
            summary.points[key]["foreign_cpu"] = max(p.get("foreign_cpu", 0.0) for p in measured)
        summaries[(model, server)] = summary
    return summaries


def ratio(summaries: dict[tuple[str, str], Summary], model: str, server: str, key: str, metric: str) -> float | None:
    """``server``'s median divided by the baseline's median for one point and metric."""
    mine = summaries.get((model, server))
    base = summaries.get((model, BASELINE))
    if mine is None or base is None:
        return None
    a = mine.points.get(key, {}).get(metric)
    b = base.points.get(key, {}).get(metric)
    if a is None or not b:
        return None
    return a / b


@dataclass(frozen=True)
class Verdict:
    status: str  # PASS, FAIL or SKIP
    text: str
    value: float | None
    unit: str = ""

    def line(self) -> str:
        measured = "not measured" if self.value is None else f"measured {self.value:.2f}{self.unit}"
        return f"{self.status} {self.text} ({measured})"


def judge(target: Target, summaries: dict[tuple[str, str], Summary], selected: set[tuple[str, str]]) -> Verdict:
    """Judge a target on medians; SKIP when the run did not include what it needs."""
    needed = {(target.model, SUBJECT)} | ({(target.model, BASELINE)} if target.relative else set())
    if not needed <= selected:
        return Verdict("SKIP", target.text, None, target.unit)
    value: float | None
    if target.point is not None:
        if target.relative:
            value = ratio(summaries, target.model, SUBJECT, target.point.key, target.metric)
        else:
            mine = summaries.get((target.model, SUBJECT))
            value = mine.points.get(target.point.key, {}).get(target.metric) if mine else None
    else:
        mine = summaries.get((target.model, SUBJECT))
        value = mine.start.get(target.metric) if mine else None
        if value is not None and target.relative:
            base = summaries.get((target.model, BASELINE))
            base_value = base.start.get(target.metric) if base else None
            value = value / base_value if base_value else None
    if value is None:
        return Verdict("FAIL", target.text, None, target.unit)
    passed = value >= target.bound if target.op == ">=" else value <= target.bound
    return Verdict("PASS" if passed else "FAIL", target.text, value, target.unit)


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def load_table(
    summaries: dict[tuple[str, str], Summary], models: Sequence[ModelSpec], servers: Sequence[str]
) -> list[str]:
    lines = [
        "| model | load | server | req/s | ÷ base | p50 ms | ÷ base | p99 ms | ÷ base |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for model in models:
        for point in model.points:
            for server in servers:
                summary = summaries.get((model.name, server))
                if summary is None:
                    continue
                values = summary.points.get(point.key)
                if values is None:
                    lines.append(f"| {model.name} | {point.label} | {server} | failed | | | | | |")
                    continue
                cells = []
                for metric, show in (("rps", fmt), ("p50_ms", fmt_ms), ("p99_ms", fmt_ms)):
                    cells.append(show(values[metric]))
                    cells.append(fmt_ratio(ratio(summaries, model.name, server, point.key, metric)))
                lines.append(f"| {model.name} | {point.label} | {server} | " + " | ".join(cells) + " |")
    return lines


def start_table(
    summaries: dict[tuple[str, str], Summary], models: Sequence[ModelSpec], servers: Sequence[str]
) -> list[str]:
    lines = [
        "| model | server | ready s | peak RSS, all processes MB | peak RSS, largest API worker MB | API workers |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for model in models:
        for server in servers:
            summary = summaries.get((model.name, server))
            if summary is None:
                continue
            start = summary.start
            ready = start.get("ready_s")
            cells = [
                "failed" if ready is None else f"{ready:.2f}",
                fmt(start.get("tree_rss_mb")),
                fmt(start.get("worker_rss_mb")),
                "–" if start.get("workers") is None else f"{start['workers']:g}",
            ]
            lines.append(f"| {model.name} | {server} | " + " | ".join(cells) + " |")
    return lines


def busy_points(summaries: dict[tuple[str, str], Summary], meta: dict[str, Any]) -> list[str]:
    """The points measured while other processes used more CPU than ``meta["busy_warning"]``."""
    return [
        f"{s.model} / {s.server} / {key}: {values['foreign_cpu']:.0%}"
        for s in summaries.values()
        for key, values in s.points.items()
        if values.get("foreign_cpu", 0.0) > meta.get("busy_warning", 1.0)
    ]


def render_markdown(
    summaries: dict[tuple[str, str], Summary],
    models: Sequence[ModelSpec],
    servers: Sequence[str],
    verdicts: Sequence[Verdict],
    meta: dict[str, Any],
) -> str:
    runs = meta["runs"]
    parts = [
        "# tiffin benchmark",
        "",
        (
            f"{meta['date']} · {meta['machine']} · wrk {meta['wrk']} on the same machine · "
            f"{meta['warmup_s']:g} s warm-up + {meta['duration_s']:g} s per point · "
            f"{runs} run{'s' if runs != 1 else ''}, medians shown · heavy model: {meta['heavy_model']}"
        ),
        "",
        (
            "Every server runs 2 API worker processes. `÷ base` divides by the baseline measured in the "
            "same invocation (median by median): a hand-written FastAPI app with the same model "
            "in-process; `ceiling` is a bare ASGI app returning the stored answer under the same "
            "gunicorn setup. wrk and the servers share the machine's CPUs. Latencies are wrk's, which "
            "corrects for coordinated omission: a single long pause raises p99 for the whole point."
        ),
        "",
        *load_table(summaries, models, servers),
        "",
        *start_table(summaries, models, servers),
        "",
        (
            "RSS is summed over the server's process tree (shared pages counted in every process), "
            "sampled every 200 ms; the API worker figure is the largest single worker process."
        ),
    ]
    if verdicts:
        parts += ["", "## Targets", "", *(f"- {v.line()}" for v in verdicts)]
    busy = busy_points(summaries, meta)
    if busy:
        parts += [
            "",
            "## Caution: a busy machine",
            "",
            "Other processes used this share of all CPUs during these points (worst run):",
            "",
            *(f"- {line}" for line in busy),
        ]
    failures = [(s.model, s.server, e) for s in summaries.values() for e in s.errors]
    if failures:
        parts += ["", "## Failures", "", *(f"- {m} / {s}: {e.splitlines()[0]}" for m, s, e in failures)]
    return "\n".join(parts) + "\n"
