"""The API server's own count of ``POST /classify``, read from ``/metrics`` (SPEC, "Metrics")."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from bench.server import http_request

NAMESPACE = "tiffin"
ENDPOINT = "/classify"


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]  # tiffin_http_requests_total{endpoint="/classify",method="POST"} per status
    histogram: int  # tiffin_http_request_duration_seconds_count, all statuses
    in_progress: int  # tiffin_http_requests_in_progress

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def parse(text: str, endpoint: str = ENDPOINT) -> Counts:
    by_status: dict[str, int] = {}
    histogram = in_progress = 0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("endpoint") != endpoint or s.labels.get("method") != "POST":
                continue
            if s.name == f"{NAMESPACE}_http_requests_total":
                by_status[s.labels["status"]] = by_status.get(s.labels["status"], 0) + int(s.value)
            elif s.name == f"{NAMESPACE}_http_request_duration_seconds_count":
                histogram += int(s.value)
            elif s.name == f"{NAMESPACE}_http_requests_in_progress":
                in_progress += int(s.value)
    return Counts(by_status, histogram, in_progress)


def read(host: str, port: int) -> Counts:
    status, body = http_request(host, port, "GET", "/metrics", timeout=10.0)
    if status != 200:
        raise RuntimeError(f"GET /metrics answered {status}: {body[:200]!r}")
    return parse(body.decode())


def settled(host: str, port: int, *, timeout: float = 10.0, poll: float = 0.2) -> Counts:
    """The counts once nothing is in progress and two reads ``poll`` apart agree (or at ``timeout``)."""
    deadline = time.monotonic() + timeout
    last = read(host, port)
    while time.monotonic() < deadline:
        time.sleep(poll)
        now = read(host, port)
        if now == last and now.in_progress == 0:
            return now
        last = now
    return last


def delta(after: Counts, before: Counts) -> dict[str, int]:
    codes = set(after.by_status) | set(before.by_status)
    moved = {code: after.by_status.get(code, 0) - before.by_status.get(code, 0) for code in codes}
    return {code: n for code, n in sorted(moved.items()) if n}
