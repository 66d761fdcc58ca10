"""``tiffin api`` as real processes: gunicorn master + 2 uvicorn workers."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
from pathlib import Path

import httpx
import pytest

from tests.procs import Proc, free_port, tiffin
from tests.waiting import wait_until

SERVICE = "tests/app/services/slow_service.py:Slow"


def worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(c) for c in children}


def counter(text: str, endpoint: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("tiffin_http_requests_total{") and f'endpoint="{endpoint}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def in_progress(text: str, endpoint: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("tiffin_http_requests_in_progress{") and f'endpoint="{endpoint}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def api_server(tmp_path: Path):
    port = free_port()
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    proc = Proc(
        tiffin("api", SERVICE, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
        env={"TMPDIR": str(tmp_path), "TIFFIN_GRACEFUL_TIMEOUT": "10", "TIFFIN_CONFIG": str(empty)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(base + "/readyz")
        yield proc, base, tmp_path
    finally:
        proc.stop()


def test_metrics_are_exact_across_workers_and_survive_a_killed_worker(api_server) -> None:
    proc, base, tmp = api_server
    pids: set[int] = set()
    for _ in range(60):
        with httpx.Client(base_url=base) as client:  # a fresh connection each time: spread over workers
            pids.add(client.post("/pid", json={}).json())
    assert pids == worker_pids(proc.pid), "requests should reach both workers"
    for _ in range(5):
        assert counter(httpx.get(base + "/metrics").text, "/pid") == 60

    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        now = worker_pids(proc.pid)
        return len(now) == 2 and victim not in now

    wait_until(
        replaced,
        timeout=20,
        interval=0.1,
        message=lambda: f"gunicorn replacing worker {victim} (workers now: {worker_pids(proc.pid)})",
    )
    proc.wait_http(base + "/readyz")
    for _ in range(10):
        with httpx.Client(base_url=base) as client:
            client.post("/pid", json={})
    for _ in range(5):
        assert counter(httpx.get(base + "/metrics").text, "/pid") == 70


def test_sigterm_drains_in_flight_requests_and_exits_zero(api_server) -> None:
    proc, base, _ = api_server
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(httpx.post, base + "/sleep", json={"seconds": 3.0}, timeout=10) for _ in range(8)
        ]
        wait_until(
            lambda: in_progress(httpx.get(base + "/metrics").text, "/sleep") == 8,
            message="8 /sleep requests in flight",
        )
        proc.signal(signal.SIGTERM)
        results = [f.result() for f in futures]
    assert [r.status_code for r in results] == [200] * 8
    assert proc.wait(timeout=15) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/livez", timeout=1)


def test_a_bad_service_import_stops_the_start_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import nonexistent_module_xyz\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    proc = Proc(tiffin("api", f"{broken}:svc", "--port", str(free_port())), env={"TIFFIN_CONFIG": str(empty)})
    try:
        assert proc.wait(timeout=30) == 2
        out = proc.output()
        assert re.search(r"service: cannot import .*nonexistent_module_xyz", out), out
        assert "Booting worker" not in out
    finally:
        proc.stop()


def test_a_mistyped_yaml_key_costs_one_glance(tmp_path: Path) -> None:
    config = tmp_path / "service.yaml"
    config.write_text("server:\n  wrokers: 2\n")
    proc = Proc(tiffin("api", "--config", str(config)))
    try:
        assert proc.wait(timeout=30) == 2
        lines = [line for line in proc.output().splitlines() if line.strip()]
        assert len(lines) == 1 and "server.wrokers" in lines[0] and str(config) in lines[0], lines
    finally:
        proc.stop()
