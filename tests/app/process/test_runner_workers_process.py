"""Runner workers under ``tiffin serve`` and ``tiffin runner --workers``: real processes, real kills."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.procs import Proc, free_port_block, tiffin

T = TypeVar("T")
IRIS = [[5.9, 3.0, 5.1, 1.8]]
CONFIG = """\
name: iris_classifier
server: {{workers: 2, timeout: 20}}
runners:
  iris_clf:
    model: iris_clf:latest
    workers: {workers}
apis:
  - name: classify
    runner: iris_clf.predict
    input: {{type: ndarray, dtype: float64, shape: [-1, 4], enforce_shape: true}}
    output: {{type: ndarray}}
"""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=5)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self._path)


def unix_get(path: str, target: str) -> tuple[int, bytes]:
    conn = _UnixConnection(path)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def runner_workers(parent: int) -> dict[int, str]:
    """pid → Unix socket of every runner worker the process ``parent`` started."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return {}
    found = {}
    for child in map(int, children):
        argv = cmdline(child)
        if "runner" in argv and "--worker" in argv and "--uds" in argv:
            found[child] = argv[argv.index("--uds") + 1]
    return found


def two(workers: dict[int, str]) -> dict[int, str] | None:
    return workers if len(workers) == 2 else None


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, proc: Proc) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.process.poll() is not None:
            raise AssertionError(f"{proc.argv} exited {proc.process.returncode} waiting for {what}:\n{proc.output()}")
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout}s:\n{proc.output()}")


def ready(sock: str) -> bool:
    try:
        return unix_get(sock, "/readyz")[0] == 200
    except OSError:
        return False


def start(home: Path, tmp_path: Path, workers: int) -> tuple[Proc, str, str]:
    config = tmp_path / "workers.yaml"
    config.write_text(CONFIG.format(workers=workers))
    port = free_port_block(2)
    proc = Proc(
        tiffin("serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)),
        env={"TIFFIN_HOME": str(home)},
    )
    return proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


Serving = tuple[Proc, str, str]


@pytest.fixture
def two_workers(iris_home: Path, tmp_path: Path) -> Iterator[Serving]:
    proc, api, runner = start(iris_home, tmp_path, workers=2)
    try:
        proc.wait_http(api + "/readyz", timeout=90)
        yield proc, api, runner
    finally:
        proc.stop()


def test_both_runner_workers_take_requests_and_metrics_count_them_all(two_workers: Serving) -> None:
    proc, api, runner = two_workers
    workers = wait_for(lambda: two(runner_workers(proc.pid)), 30, "two runner workers", proc)
    for sock in workers.values():
        wait_for(lambda sock=sock: ready(sock), 60, "a ready worker", proc)
    before = metric(httpx.get(runner + "/metrics").text, "tiffin_runner_batch_size_sum")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: httpx.post(api + "/classify", json=IRIS, timeout=20).json(), range(300)))
    assert answers == [[2]] * 300
    calls = {}
    for pid, sock in workers.items():
        info = json.loads(unix_get(sock, "/info")[1])
        assert info["process"]["pid"] == pid and info["workers"] == 2
        calls[pid] = info["process"]["calls"]
    assert all(n > 0 for n in calls.values()), calls
    rows = [metric(httpx.get(runner + "/metrics").text, "tiffin_runner_batch_size_sum") for _ in range(4)]
    assert rows == [before + 300] * 4  # whichever worker answers the scrape: the rows of both


def test_a_killed_worker_under_load_costs_at_most_503s_and_comes_back(two_workers: Serving) -> None:
    proc, api, runner = two_workers
    workers = wait_for(lambda: two(runner_workers(proc.pid)), 30, "two runner workers", proc)
    for sock in workers.values():
        wait_for(lambda sock=sock: ready(sock), 60, "a ready worker", proc)
    statuses: list[int] = []
    problems: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=15) as client:  # the server's timeout is 20 s: nothing may hang past it
            while not stop.is_set():
                try:
                    response = client.post(api + "/classify", json=IRIS)
                except httpx.HTTPError as exc:
                    problems.append(repr(exc))
                    continue
                statuses.append(response.status_code)
                if response.status_code == 503 and not response.headers.get("retry-after"):
                    problems.append("503 without Retry-After")
                elif response.status_code not in (200, 503):
                    problems.append(f"{response.status_code} {response.text}")

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(statuses) > 200, 60, "load", proc)
        victim = next(iter(workers))
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(
            lambda: {p: s for p, s in runner_workers(proc.pid).items() if p not in workers}, 30, "a new worker", proc
        )
        (sock,) = replaced.values()
        wait_for(lambda: ready(sock), 60, "the new worker ready", proc)
        served = len(statuses)
        wait_for(lambda: len(statuses) > served + 200, 60, "load after the restart", proc)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not problems, problems[:5]
    assert statuses.count(200) > 400
    assert proc.process.poll() is None  # serve kept running
    text = httpx.get(runner + "/metrics").text
    assert metric(text, "tiffin_runner_restarts_total") == 1
    assert "killed by SIGKILL; starting it again" in proc.output()
    assert httpx.post(api + "/classify", json=IRIS).json() == [2]


def test_a_worker_killed_again_and_again_at_start_makes_serve_give_up(iris_home: Path, tmp_path: Path) -> None:
    proc, _, _ = start(iris_home, tmp_path, workers=1)
    killed: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while proc.process.poll() is None and time.monotonic() < deadline:
            for pid in runner_workers(proc.pid):
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.01)
        code = proc.wait(timeout=30)
        output = proc.output()
    finally:
        proc.stop()
    assert code == 1, output
    assert len(killed) >= 2
    assert "runner iris_clf keeps failing at start" in output
    assert "killed by SIGKILL" in output.split("keeps failing at start", 1)[1]


def test_tiffin_runner_with_workers_shares_one_port(iris_home: Path) -> None:
    port = free_port_block(1)
    proc = Proc(
        tiffin("runner", "iris_clf", "--model", "iris_clf:latest", "--workers", "2", "--host", "127.0.0.1",
               "--port", str(port)),
        env={"TIFFIN_HOME": str(iris_home)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        workers = wait_for(lambda: two(runner_workers(proc.pid)), 30, "two workers", proc)
        for sock in workers.values():
            wait_for(lambda sock=sock: ready(sock), 60, "a ready worker", proc)
        pids = set()
        for _ in range(20):  # fresh connections: the kernel hands them to either worker
            with httpx.Client() as client:
                assert client.post(base + "/predict", json=IRIS).json() == [2]
                pids.add(client.get(base + "/info").json()["process"]["pid"])
        assert pids <= set(workers)
        text = httpx.get(base + "/metrics").text
        assert metric(text, 'tiffin_runner_requests_total{method="predict"') == 20
        proc.signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert all(not Path(f"/proc/{pid}").exists() or not cmdline(pid) for pid in workers)
    finally:
        proc.stop()
