"""A real Prometheus (Debian's package) scraping ``tiffin serve``: both targets up, counts exact."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.procs import Proc, free_port, free_port_block, tiffin
from tests.waiting import wait_until

PROMETHEUS = shutil.which("prometheus")


def query(base: str, expr: str) -> list[dict]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (scripts/bootstrap installs it)")
def test_prometheus_scrapes_api_and_runner_and_agrees_on_the_count(iris_home: Path, tmp_path: Path) -> None:
    port = free_port_block(2)
    serve = Proc(
        tiffin("serve", "--host", "127.0.0.1", "--port", str(port)), env={"TIFFIN_HOME": str(iris_home)}
    )
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: api\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        f"  - job_name: runner\n    static_configs: [{{targets: ['127.0.0.1:{port + 1}']}}]\n"
    )
    prom = Proc(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ]
    )
    base = f"http://127.0.0.1:{prom_port}"
    try:
        serve.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
        prom.wait_http(base + "/-/ready", timeout=60)
        sent = 37
        with httpx.Client() as client:
            for _ in range(sent):
                response = client.post(f"http://127.0.0.1:{port}/classify", json=[[5.9, 3.0, 5.1, 1.8]])
                assert response.json() == [2]

        def targets_up():
            up = {r["metric"]["job"]: r["value"][1] for r in query(base, "up")}
            return up if up == {"api": "1", "runner": "1"} else None

        wait_until(targets_up, interval=0.5, message="Prometheus seeing both targets up")

        def api_count():
            result = query(base, 'sum(tiffin_http_requests_total{endpoint="/classify",status="200"})')
            return result and float(result[0]["value"][1]) == sent

        wait_until(api_count, interval=0.5, message=f"Prometheus counting {sent} API requests")

        def runner_count():
            result = query(base, 'sum(tiffin_runner_requests_total{method="predict",status="200"})')
            return result and float(result[0]["value"][1]) == sent

        wait_until(runner_count, interval=0.5, message=f"Prometheus counting {sent} runner requests")
    finally:
        prom.stop()
        serve.stop()
