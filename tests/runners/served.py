"""A stored model served as users serve it: ``tiffin serve`` and a YAML file that names only its tag.

``serve_model(tmp_path, tag, method, input=..., output=...)`` writes the YAML (one runner,
``model: TAG``, one API calling ``runner.method``), starts ``tiffin serve`` on free ports with the
session's ``TIFFIN_HOME``, waits for ``/readyz`` and yields the API's URL; the process group is
stopped at exit. ``post_concurrently`` sends many requests at once, one thread each.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.procs import Proc, free_port_block, tiffin

READY_WITHIN = 240.0  # seconds: importing torch and transformers on a busy 2-core machine is slow


def config(tag: str, method: str, *, input: dict[str, Any], output: dict[str, Any], **runner: Any) -> dict[str, Any]:
    name = tag.partition(":")[0]
    return {
        "name": f"{name}_service",
        "runners": {name: {"model": tag, **runner}},
        "apis": [{"name": "predict", "runner": f"{name}.{method}", "input": input, "output": output}],
    }


@contextlib.contextmanager
def serve_model(
    tmp_path: Path, tag: str, method: str, *, input: dict[str, Any], output: dict[str, Any], **runner: Any
) -> Iterator[str]:
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(config(tag, method, input=input, output=output, **runner)))
    port = free_port_block(3)
    proc = Proc(tiffin("serve", "--config", str(path), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"))
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=READY_WITHIN)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def post_concurrently(url: str, bodies: Sequence[Any]) -> list[Any]:
    """POST every body as JSON at the same moment (a barrier releases the threads); the decoded answers."""
    barrier = threading.Barrier(len(bodies))

    def send(body: Any) -> Any:
        with httpx.Client(timeout=120) as client:
            barrier.wait()
            response = client.post(url, json=body)
            assert response.status_code == 200, response.text
            return response.json()

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def batches_run(api_url: str, runner: str, method: str) -> float:
    """How many batches the runner ran for ``method`` (its TCP port is the API's port + 1)."""
    host, _, port = api_url.rpartition(":")
    text = httpx.get(f"{host}:{int(port) + 1}/metrics", timeout=10).text
    labels = f'method="{method}",runner="{runner}"'
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("tiffin_runner_batch_size_count{") and labels in line
    )


def post(api_url: str, body: Any, route: str = "/predict") -> Any:
    response = httpx.post(f"{api_url}{route}", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()
