"""``tiffin serve`` as users run it: 2 API workers and the real runner sidecar."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.procs import Proc, free_port_block, tiffin
from tests.waiting import wait_until

IRIS = [[5.9, 3.0, 5.1, 1.8]]


def start_serve(home: Path, *args: str) -> tuple[Proc, str, str]:
    port = free_port_block(3)
    proc = Proc(tiffin("serve", *args, "--host", "127.0.0.1", "--port", str(port)), env={"TIFFIN_HOME": str(home)})
    return proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"


@pytest.fixture(scope="module")
def iris(iris_home: Path):
    proc, api, runner = start_serve(iris_home)  # no arguments: config/service.yaml
    try:
        proc.wait_http(api + "/readyz", timeout=60)
        yield api, runner
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def limits(iris_home: Path):
    proc, api, runner = start_serve(iris_home, "--config", "tests/app/services/limits.yaml")
    try:
        proc.wait_http(api + "/readyz", timeout=60)
        yield api, runner
    finally:
        proc.stop()


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_default_config_serves_the_iris_classifier(iris) -> None:
    api, _ = iris
    assert httpx.post(api + "/classify", json=IRIS).json() == [2]
    npy = np.lib.format
    import io

    buf = io.BytesIO()
    npy.write_array(buf, np.array(IRIS))
    response = httpx.post(api + "/classify", content=buf.getvalue(), headers={"content-type": "application/x-npy"})
    assert response.json() == [2]
    assert httpx.get(api + "/").status_code == 200
    assert "/classify" in httpx.get(api + "/docs.json").json()["paths"]


def test_error_statuses_from_the_real_server(iris) -> None:
    api, _ = iris
    bad = httpx.post(api + "/classify", content=b"[[1,2", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]
    assert httpx.post(api + "/classify", json=[[1, 2, 3]]).status_code == 400
    assert httpx.post(api + "/classify", content=b"x", headers={"content-type": "text/csv"}).status_code == 415
    assert httpx.get(api + "/nope").status_code == 404
    assert httpx.get(api + "/classify").status_code == 405
    assert httpx.post(api + "/classify", json=IRIS).json() == [2]


def test_metrics_are_exact_across_workers_and_batches_are_visible(iris) -> None:
    api, runner = iris
    before = metric(httpx.get(api + "/metrics").text, "tiffin_http_requests_total", endpoint="/classify", status="200")
    sent = 0
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: httpx.post(api + "/classify", json=IRIS).json(), range(200)))
    sent = len(results)
    assert results == [[2]] * sent
    for _ in range(6):  # every scrape, whichever worker answers it, gives the same total
        text = httpx.get(api + "/metrics").text
        assert metric(text, "tiffin_http_requests_total", endpoint="/classify", status="200") == before + sent
    runner_text = httpx.get(runner + "/metrics").text
    assert metric(runner_text, "tiffin_runner_batch_size_count", method="predict") < before + sent


def test_oversized_bodies_are_refused_without_buffering(limits) -> None:
    api, _ = limits
    host, port = api.removeprefix("http://").split(":")
    declared = b"POST /wait HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(declared)
        assert s.recv(100).startswith(b"HTTP/1.1 413")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /wait HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        s.setblocking(False)
        answer = b""
        chunk = b"%x\r\n%s\r\n" % (4096, b" " * 4096)
        deadline = time.monotonic() + 60
        while sent < 50 * 1024 * 1024 and not answer and time.monotonic() < deadline:
            try:
                s.send(chunk)
                sent += 4096
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
            try:
                answer = s.recv(100)
            except BlockingIOError:
                pass
        assert answer.startswith(b"HTTP/1.1 413"), f"after {sent} bytes: {answer!r}"
    assert sent < 50 * 1024 * 1024


def test_limits_504_503_and_500(limits) -> None:
    api, runner = limits
    assert httpx.post(api + "/wait", json=[[0.0]]).json() == [[0.0]]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(httpx.post, api + "/wait", json=[[0.7]], timeout=10) for _ in range(6)]
        wait_until(
            lambda: any(f.done() and f.result().status_code == 503 for f in futures),
            message="a /wait refused with 503 while two others hold both slots",
        )
        assert httpx.get(api + "/livez").status_code == 200  # probes are exempt
        statuses = sorted(f.result().status_code for f in futures)
    assert 503 in statuses and 200 in statuses, statuses
    rejected = next(f.result() for f in futures if f.result().status_code == 503)
    assert rejected.headers["retry-after"]

    failed = httpx.post(api + "/fail", json=[[1.0]], headers={"x-request-id": "fail-1"})
    assert failed.status_code == 500
    assert "secret" not in failed.text
    assert failed.headers["x-request-id"] == "fail-1"
    assert httpx.post(api + "/wait", json=[[0.0]]).status_code == 200

    def computed() -> float:
        return metric(httpx.get(runner + "/metrics").text, "tiffin_runner_inference_duration_seconds_count", method="wait")

    before = computed()
    slow = httpx.post(api + "/wait", json=[[3.0]], timeout=10)  # the API's timeout is 1 s
    assert slow.status_code == 504 and slow.json()["error"]
    assert computed() == before, "the 504 came only once the runner had finished, not at the timeout"
    wait_until(lambda: computed() == before + 1, message="the runner finishing the call the API gave up on")


def test_sigterm_with_requests_in_flight(iris_home: Path) -> None:
    proc, api, _ = start_serve(iris_home, "--config", "tests/app/services/limits.yaml")
    try:
        proc.wait_http(api + "/readyz", timeout=60)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(httpx.post, api + "/wait", json=[[0.4]], timeout=10) for _ in range(2)]

            def arrived() -> bool:  # both reached the server: in flight, or (the first, held 0.4 s) answered
                text = httpx.get(api + "/metrics").text
                in_flight = metric(text, "tiffin_http_requests_in_progress", endpoint="/wait")
                return in_flight >= 1 and in_flight + metric(text, "tiffin_http_requests_total", endpoint="/wait") == 2

            wait_until(arrived, message="both /wait requests at the server, one still in flight")
            proc.signal(signal.SIGTERM)
            assert [f.result().status_code for f in futures] == [200, 200]
        assert proc.wait(timeout=30) == 0
    finally:
        proc.stop()


def test_a_dead_runner_is_respawned_and_a_dead_api_server_stops_serve(iris_home: Path) -> None:
    proc, api, _ = start_serve(iris_home)
    try:
        proc.wait_http(api + "/readyz", timeout=60)

        def children() -> dict[int, list[bytes]]:
            pids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            return {int(c): Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0") for c in pids}

        runner_pid = next(pid for pid, argv in children().items() if b"runner" in argv)
        os.kill(runner_pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while runner_pid in children() or not any(b"runner" in argv for argv in children().values()):
            assert proc.process.poll() is None and time.monotonic() < deadline, proc.output()
            time.sleep(0.05)
        proc.wait_http(api + "/readyz", timeout=60)  # the new runner is found by the API by itself
        assert httpx.post(api + "/classify", json=IRIS).json() == [2]
        assert proc.process.poll() is None

        api_pid = next(pid for pid, argv in children().items() if b"api" in argv)
        os.kill(api_pid, signal.SIGKILL)  # gunicorn's master: nothing respawns it
        assert proc.wait(timeout=60) == 1
        assert "api killed by SIGKILL" in proc.output()
        deadline = time.monotonic() + 60  # its orphaned workers were stopped too
        while any(int(info.split()[4]) == api_pid for info in _stats()):  # fields: pid state ppid pgrp session
            assert time.monotonic() < deadline, "the API server's workers outlived serve"
            time.sleep(0.1)
    finally:
        proc.stop()


def _stats() -> list[str]:
    """Each process's pid, then its ``/proc/PID/stat`` after the command name (state, ppid, pgrp, session, ...)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            found.append(entry.name + " " + text[text.rindex(")") + 2 :])
    return found
