"""Streaming through real ``tiffin serve`` processes: chunks reach an HTTP client as they are made."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.procs import Proc, free_port_block, tiffin


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port_block(1)
    proc = Proc(
        tiffin(
            "serve", "tests/app/services/stream_service.py:svc", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "2",
        ),
        env={"TIFFIN_TIMEOUT": "3"},
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def read_gated(url: str, gate: Path, headers: dict[str, str] | None = None) -> tuple[httpx.Headers, bytes, bytes]:
    """The first chunk (read before the gate exists, so before the rest can be made) and the rest."""
    with httpx.stream("POST", url, json={"gate": str(gate)}, headers=headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        chunks = response.iter_raw()
        first = next(chunks)
        assert not gate.exists()
        gate.touch()
        return response.headers, first, b"".join(chunks)


@pytest.mark.parametrize(
    ("path", "first", "rest"),
    [
        ("/tokens", b"first ", b"second third"),
        ("/fastapi/stream", b"fa ", b"fb"),
        ("/flask/stream", b"la ", b"lb"),
    ],
)
def test_the_first_chunk_arrives_before_the_rest_is_made(server: str, tmp_path: Path, path: str, first: bytes, rest: bytes) -> None:
    headers, got_first, got_rest = read_gated(server + path, tmp_path / "gate")
    assert headers["content-type"].startswith("text/plain")
    assert "content-length" not in headers and headers["transfer-encoding"] == "chunked"
    assert headers["x-request-id"]
    assert got_first == first and got_rest == rest


def test_json_lines_and_server_sent_events_through_the_server(server: str, tmp_path: Path) -> None:
    headers, first, rest = read_gated(server + "/events", tmp_path / "gate1")
    assert headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in (first + rest).splitlines()] == [{"i": 0}, {"i": 1}]
    headers, first, rest = read_gated(server + "/events", tmp_path / "gate2", {"accept": "text/event-stream"})
    assert headers["content-type"].startswith("text/event-stream")
    assert first == b'data: {"i":0}\n\n' and rest == b'data: {"i":1}\n\n'


def test_a_stream_may_outlast_the_timeout_but_not_go_quiet_for_longer(server: str) -> None:
    """``server.timeout`` is 3 s here: it bounds each gap, not the whole stream."""
    long = httpx.post(server + "/steady", json={"n": 6, "gap": 0.75}, timeout=60)
    assert long.status_code == 200 and long.text == "0 1 2 3 4 5 "
    sse = httpx.post(server + "/stall", content="x", headers={"content-type": "text/plain", "accept": "text/event-stream"}, timeout=60)
    first, error = sse.text.split("\n\n")[:2]
    assert first == "data: only "
    assert error.startswith("event: error\ndata: ")
    assert json.loads(error.split("data: ", 1)[1])["detail"] == {"idle_timeout": 3.0}
    with pytest.raises(httpx.RemoteProtocolError):  # plain text has no in-band error: the connection is cut
        httpx.post(server + "/stall", content="x", headers={"content-type": "text/plain"}, timeout=60)
