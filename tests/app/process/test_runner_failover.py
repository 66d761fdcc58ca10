"""An API server whose runner is killed: 503 fast, /readyz 503, and back by itself."""

from __future__ import annotations

import errno
from pathlib import Path

import httpx

from tests.procs import Proc, free_port, tiffin

IRIS = [[5.9, 3.0, 5.1, 1.8]]


def test_killed_runner_gives_503_fast_and_the_api_recovers(iris_home: Path) -> None:
    runner_port, api_port = free_port(), free_port()
    env = {"TIFFIN_HOME": str(iris_home), "TIFFIN_RUNNER_IRIS_CLF_URL": f"http://127.0.0.1:{runner_port}"}
    runner_argv = tiffin("runner", "iris_clf", "--host", "127.0.0.1", "--port", str(runner_port))
    runner = Proc(runner_argv, env=env)
    api = Proc(tiffin("api", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "2"), env=env)
    base = f"http://127.0.0.1:{api_port}"
    try:
        api.wait_http(base + "/readyz", timeout=60)
        assert httpx.post(base + "/classify", json=IRIS).json() == [2]

        runner.stop()
        for _ in range(4):  # both workers, fresh connections
            response = httpx.post(base + "/classify", json=IRIS, timeout=10)
            assert response.status_code == 503
            assert response.headers["retry-after"]
            # fast: the connection was refused, no connect or answer timeout was waited out
            assert f"[Errno {errno.ECONNREFUSED}]" in response.json()["detail"], response.text
        assert httpx.get(base + "/readyz").status_code == 503
        assert httpx.get(base + "/livez").status_code == 200

        runner = Proc(runner_argv, env=env)
        runner.wait_http(f"http://127.0.0.1:{runner_port}/readyz", timeout=60)
        api.wait_http(base + "/readyz", timeout=30)
        for _ in range(4):
            assert httpx.post(base + "/classify", json=IRIS).json() == [2]
    finally:
        api.stop()
        runner.stop()
