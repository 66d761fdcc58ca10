"""``@service(resources={"cpu": N})`` under ``tiffin api``: every worker's thread pools are capped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.procs import Proc, free_port, tiffin


def test_each_worker_runs_its_native_pools_on_its_cpu_share(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    port = free_port()
    argv = tiffin("api", "tests/app/services/threads_service.py:Threads", "--host", "127.0.0.1", "--port", str(port))
    proc = Proc([*argv, "--workers", "2"], env={"TIFFIN_CONFIG": str(empty)})
    try:
        base = f"http://127.0.0.1:{port}"
        proc.wait_http(base + "/readyz")
        for _ in range(6):  # fresh connections: both workers answer
            with httpx.Client(base_url=base) as client:
                answer = client.post("/threads", json={}).json()
            assert answer["omp"] == "1"
            assert answer["pools"] and set(answer["pools"]) == {1}
    finally:
        proc.stop()


def test_a_resource_that_cannot_be_honoured_stops_the_start(tmp_path: Path) -> None:
    source = tmp_path / "svc.py"
    source.write_text(
        "from app import api, service\n\n"
        "@service(resources={'cpu': 1, 'memory': '1Gi'})\n"
        "class Hungry:\n"
        "    @api\n"
        "    def hello(self) -> str:\n"
        "        return 'hi'\n"
    )
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    result = subprocess.run(
        [*tiffin("api", f"{source}:Hungry"), "--config", str(empty)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "resources: 'memory' cannot be honoured" in result.stderr
