"""The ``server.*`` connection limits of the YAML reach real ``tiffin api`` workers."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.procs import Proc, free_port, tiffin

SERVICE = "tests/app/services/slow_service.py:Slow"
CONFIG = """\
server:
  workers: 2
  header_timeout: 1
  body_timeout: 1
  keepalive_timeout: 0.5
  max_header_size: 4KiB
  max_headers: 10
  max_request_size: 1KiB
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("limits")
    (tmp / "limits.yaml").write_text(CONFIG)
    port = free_port()
    proc = Proc(
        tiffin("api", SERVICE, "--host", "127.0.0.1", "--port", str(port)),
        env={"TMPDIR": str(tmp), "TIFFIN_CONFIG": str(tmp / "limits.yaml")},
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz")
        yield proc, port
    finally:
        proc.stop()


def exchange(port: int, data: bytes) -> tuple[bytes, float]:
    """Send ``data``, read until the server closes; the answer and how long the close took."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer, time.monotonic() - started


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_head_limits_from_the_yaml(api) -> None:
    _, port = api
    headers = b"".join(b"x-h%d: v\r\n" % i for i in range(11))
    answer, _ = exchange(port, b"GET /livez HTTP/1.1\r\nhost: x\r\n" + headers + b"\r\n")
    assert status(answer) == 431
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["detail"] == {"max_headers": 10}
    answer, _ = exchange(port, b"GET /livez HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 5000 + b"\r\n\r\n")
    assert status(answer) == 431
    answer, _ = exchange(port, b"GET /livez?" + b"a" * 5000 + b" HTTP/1.1\r\nhost: x\r\n\r\n")
    assert status(answer) == 414


def test_timeouts_from_the_yaml(api) -> None:
    proc, port = api
    answer, took = exchange(port, b"POST /pid HTTP/1.1\r\nhost: x\r\n")
    assert status(answer) == 408 and 0.9 <= took < 5
    body_head = b"POST /sleep HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{"
    answer, took = exchange(port, body_head)
    assert status(answer) == 408 and 0.9 <= took < 5
    answer, took = exchange(port, b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n")  # answered, then idle
    assert status(answer) == 200 and 0.4 <= took < 3  # keepalive_timeout 0.5, not gunicorn's 5
    assert "Traceback" not in proc.output()


def test_a_declared_body_over_max_request_size_is_413_at_its_head(api) -> None:
    _, port = api
    head = b"POST /sleep HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2147483648\r\n\r\n"
    answer, took = exchange(port, head)
    assert status(answer) == 413 and took < 3  # closed, not kept open for the rest of the body
    assert httpx.post(f"http://127.0.0.1:{port}/sleep", json={"seconds": 0}).json()["slept"] == 0
