"""``tiffin serve`` of a service whose APIs forward pydantic objects, several arrays and keywords to a
runner sidecar, as BentoML's own suite does; and the runnable's own metric on the runner's /metrics."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.procs import Proc, free_port_block, tiffin

SERVICE = "tests/app/services/runner_values_service.py:svc"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    port = free_port_block(2)
    home = tmp_path_factory.mktemp("home")
    proc = Proc(
        tiffin("serve", SERVICE, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
        env={"TIFFIN_HOME": str(home)},
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=90)
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    finally:
        proc.stop()


ORDER = {"name": "tiffin", "endpoints": ["/a", "/b"]}


def test_a_validated_pydantic_object_reaches_the_runner_as_its_class_and_comes_back(served: tuple[str, str]) -> None:
    api, _ = served
    for route in ("/echo_json_enforce_structure", "/echo_obj"):
        response = httpx.post(api + route, json=ORDER, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == {**ORDER, "quantity": 1}
    response = httpx.post(api + "/describe", json={**ORDER, "quantity": 3}, timeout=30)
    assert response.json() == {"class": "Order", "is_order": True, "total": 30}
    bad = httpx.post(api + "/echo_obj", json={"name": "no endpoints"}, timeout=30)
    assert bad.status_code == 400 and "Order" in bad.json()["error"]


def test_several_arrays_to_the_runner_and_a_tuple_of_arrays_back(served: tuple[str, str]) -> None:
    api, _ = served
    response = httpx.post(api + "/predict_ndarray_multi_output", json=[[1, 2], [3, 4]], timeout=30)
    assert response.status_code == 200 and response.json() == [[2, 4], [6, 8]]
    assert httpx.post(api + "/predict_multi_ndarray", json=[[1, 2]], timeout=30).json() == [[2, 4]]


def test_text_and_a_keyword_from_a_sync_api(served: tuple[str, str]) -> None:
    api, _ = served
    response = httpx.post(api + "/count_words", content="Tea or tea", headers={"content-type": "text/plain"})
    assert response.json() == {"or": 1, "tea": 2}


def test_the_runnables_own_metric_is_on_the_runners_metrics(served: tuple[str, str]) -> None:
    api, runner = served
    for _ in range(4):
        httpx.post(api + "/echo_obj", json=ORDER, timeout=30).raise_for_status()
    text = httpx.get(runner + "/metrics", timeout=10).text
    lines = [line for line in text.splitlines() if line.startswith('values_service_echoed_total{method="echo_obj"}')]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) >= 4
    assert "tiffin_runner_requests_total" in text
