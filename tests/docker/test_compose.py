"""The repository's compose files as users run them: ``docker compose up`` in the checkout.

One project serves every test of this module, in order: the read-only checks first, then the
runner stopped and started, the runners scaled to three, and last the API container stopped
while it answers slow requests.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.docker.conftest import (
    IRIS,
    ROOT,
    Compose,
    container_metrics,
    eventually,
    metric_sum,
    wait_http,
)

SETOSA = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def stack(compose_project: Compose) -> Compose:
    """The project up, with one runner, its API ready and Prometheus ready."""
    compose_project.up()
    try:
        wait_http(compose_project.api_url + "/readyz", timeout=120)
        wait_http(compose_project.prometheus_url + "/-/ready", timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{compose_project.logs()}") from None
    return compose_project


def classify(stack: Compose, rows: list[list[float]] = IRIS, timeout: float = 10.0) -> httpx.Response:
    return httpx.post(stack.api_url + "/classify", json=rows, timeout=timeout)


def prometheus(stack: Compose, query: str) -> list[dict[str, Any]]:
    response = httpx.get(stack.prometheus_url + "/api/v1/query", params={"query": query}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_classify_answers_and_prometheus_scrapes_every_replica(stack: Compose) -> None:
    sent = 0
    for rows, expected in ((IRIS, [2]), (IRIS + [SETOSA], [2, 0]), (IRIS, [2]), (IRIS, [2])):
        response = classify(stack, rows)
        sent += 1
        assert response.status_code == 200, response.text
        assert response.json() == expected

    def scraped() -> bool:
        targets: dict[str, list[str]] = {}
        for series in prometheus(stack, "up"):
            assert series["value"][1] == "1", f"target down: {series['metric']}"
            targets.setdefault(series["metric"]["job"], []).append(series["metric"]["instance"])
        assert set(targets) == {"tiffin-api", "tiffin-runner", "prometheus"}, targets
        assert len(targets["tiffin-api"]) == 1 and len(targets["tiffin-runner"]) == 1, targets
        total = prometheus(stack, 'sum(tiffin_http_requests_total{endpoint="/classify"})')
        counted = float(total[0]["value"][1]) if total else 0.0
        assert counted == sent, f"Prometheus counts {counted} /classify requests, {sent} were sent"
        return True

    eventually(scraped, "every target up and every request counted", timeout=45)


def test_containers_run_unprivileged_with_healthchecks_and_no_build_tools(
    stack: Compose, docker_client: Any, tiffin_image: str
) -> None:
    config = docker_client.images.get(tiffin_image).attrs["Config"]
    assert config["User"] and config["User"].split(":")[0] not in ("0", "root"), config["User"]
    assert config["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL"), config["Healthcheck"]

    containers = stack.containers()
    assert {c.labels["com.docker.compose.service"] for c in containers} == {"api", "runner", "prometheus"}
    for container in containers:
        uid = container.exec_run(["id", "-u"])
        assert uid.exit_code == 0 and uid.output.strip() not in (b"", b"0"), (container.name, uid.output)

    def healthy() -> bool | None:
        for container in stack.containers("api") + stack.containers("runner"):
            container.reload()
            assert container.attrs["State"]["Health"]["Status"] == "healthy", container.name
        return True

    eventually(healthy, "api and runner healthy by their HEALTHCHECKs", timeout=30)

    # As root, so that no directory is hidden from the look.
    look = (
        "for tool in gcc cc c++ g++ clang make cmake ld as cpp; do command -v $tool; done; "
        "for dir in /root/.cache /home/tiffin/.cache /tmp/build /src /opt/project; do "
        "[ -e $dir ] && echo $dir; done; "
        "find /opt/venv /usr/lib/python3* -maxdepth 4 -name '*.whl' -not -path '*/ensurepip/*'; true"
    )
    found = stack.container("api").exec_run(["sh", "-c", look], user="0")
    assert found.exit_code == 0 and found.output.decode().split() == [], found.output.decode()


def test_stopped_runner_gives_503_fast_and_the_api_recovers_without_a_restart(stack: Compose) -> None:
    api = stack.container("api")
    started_at, restarts = api.attrs["State"]["StartedAt"], api.attrs["RestartCount"]
    assert classify(stack).json() == [2]

    stack.run("stop", "runner")  # not kill: `restart: unless-stopped` would bring it back
    for _ in range(4):  # both workers, fresh connections
        began = time.monotonic()
        response = classify(stack)
        took = time.monotonic() - began
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert took < 2.5, f"503 after {took:.2f} s"
    assert httpx.get(stack.api_url + "/readyz", timeout=10).status_code == 503
    assert httpx.get(stack.api_url + "/livez", timeout=10).status_code == 200

    stack.run("start", "runner")

    def answers() -> bool:
        response = classify(stack)
        assert response.status_code == 200, response.status_code
        assert response.json() == [2]
        return True

    eventually(answers, "/classify answering again", timeout=90)
    wait_http(stack.api_url + "/readyz", timeout=30)
    api.reload()
    assert (api.attrs["State"]["StartedAt"], api.attrs["RestartCount"]) == (started_at, restarts)


def test_three_runners_each_take_requests(stack: Compose) -> None:
    stack.up("--no-recreate", "--scale", "runner=3")  # returns once the runners are healthy
    runners = stack.containers("runner")
    assert len(runners) == 3

    def spread() -> dict[str, float]:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: classify(stack).json(), range(30)))
        assert answers == [[2]] * 30, answers
        counts = {r.name: metric_sum(container_metrics(r, 3001), "tiffin_runner_requests_total") for r in runners}
        assert all(counts.values()), f"requests per runner: {counts}"
        return counts

    eventually(spread, "requests on every runner", timeout=60, interval=0)


def test_stopping_the_api_drains_the_requests_in_flight(stack: Compose, tmp_path: Path) -> None:
    # The API container again, with a slow mounted app beside /classify.
    override = tmp_path / "docker-compose.drain.yml"
    services = ROOT / "tests" / "docker" / "services"
    override.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "api": {
                        "command": ["tiffin", "api", "--config", "/srv/tiffin-test/drain.yaml"],
                        "volumes": [f"{services}:/srv/tiffin-test:ro"],
                    }
                }
            }
        )
    )
    stack.up("--no-deps", "api", extra_files=[override])
    wait_http(stack.api_url + "/readyz", timeout=90)
    api = stack.container("api")
    assert classify(stack).json() == [2]

    def in_flight() -> float | None:
        text = httpx.get(stack.api_url + "/metrics", timeout=5).text
        count = metric_sum(text, "tiffin_http_requests_in_progress", endpoint="/slow/{path}")
        return count if count == 8 else None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        slow = [pool.submit(httpx.get, stack.api_url + "/slow/?seconds=4", timeout=60) for _ in range(8)]
        eventually(in_flight, "8 slow requests in flight", timeout=10, interval=0.05)
        began = time.monotonic()
        stack.run("stop", "api")  # SIGTERM, then up to stop_grace_period (40 s) to drain
        took = time.monotonic() - began
        answers = [future.result() for future in slow]

    assert [(a.status_code, a.text) for a in answers] == [(200, "slept 4.0")] * 8
    api.reload()
    state = api.attrs["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 0, (state, api.logs(tail=30).decode())
    assert took < 30, f"docker stop took {took:.1f} s"
