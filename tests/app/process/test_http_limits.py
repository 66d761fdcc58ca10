"""``LimitedHttpToolsProtocol`` in a real uvicorn server, fed by raw sockets as hostile clients are."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from app.process.http_limits import LINGER_BYTES, LimitedHttpToolsProtocol, Limits

LIMITS = Limits(header_timeout=0.6, body_timeout=0.6, max_header_size=4096, max_headers=20)
disconnects: list[str] = []


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/early":  # answers before reading the body, as a 413 does
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"no"})
        return
    if scope["path"] == "/sleepy":
        await asyncio.sleep(1.5)  # longer than body_timeout, before it reads: not the client's gap
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnects.append(scope["path"])
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=LimitedHttpToolsProtocol.with_limits(LIMITS),
                            log_level="warning", lifespan="off", timeout_keep_alive=5)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def error_of(data: bytes) -> dict[str, object]:
    result: dict[str, object] = json.loads(data.split(b"\r\n\r\n", 1)[1])
    return result


def get(port: int, head: bytes = b"") -> bytes:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n" + head + b"connection: close\r\n\r\n")
        return read_until_closed(sock)


def post(body: bytes, path: str = "/") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (path.encode(), len(body), body)


def test_a_long_header_line_gets_431_and_an_ordinary_request_200(port: int) -> None:
    data = get(port, b"x-big: " + b"a" * 65536 + b"\r\n")
    assert status(data) == 431 and b"connection: close" in data
    assert error_of(data) == {"error": "The request head is larger than the server accepts.",
                              "detail": {"max_header_size": 4096}}  # fmt: skip
    assert status(get(port, b"x-small: " + b"a" * 2000 + b"\r\n")) == 200


def test_too_many_headers_get_431_and_the_limit_itself_passes(port: int) -> None:
    many = b"".join(b"x-h%d: v\r\n" % i for i in range(1000))
    data = get(port, many)
    assert status(data) == 431 and error_of(data)["detail"] == {"max_headers": 20}
    assert status(get(port, b"".join(b"x-h%d: v\r\n" % i for i in range(18)))) == 200  # + host, connection


def test_a_long_url_gets_414(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /?" + b"q" * 10000 + b" HTTP/1.1\r\nhost: x\r\n\r\n")
        assert status(read_until_closed(sock)) == 414


def test_an_endless_header_line_is_refused_at_the_limit_not_the_timeout(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-endless: ")
        started = time.monotonic()
        sent = 0
        while not select.select([sock], [], [], 0.002)[0] and time.monotonic() - started < 3:
            sock.sendall(b"a" * 256)
            sent += 256
        data = read_until_closed(sock)
    assert status(data) == 431
    assert sent < 16 * 1024 and time.monotonic() - started < LIMITS.header_timeout


CHUNKED = b"POST /%s HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"


def test_an_endless_trailer_is_refused_like_a_header_and_the_app_gets_a_disconnect(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(CHUNKED % b"trailer" + b"1\r\na\r\n0\r\nx-endless: ")
        started = time.monotonic()
        sent = 0
        while not select.select([sock], [], [], 0.002)[0] and time.monotonic() - started < 3:
            sock.sendall(b"a" * 256)  # httptools would gather it all, each read copying what came before
            sent += 256
        data = read_until_closed(sock)
    assert status(data) == 431 and sent < 16 * 1024
    assert error_of(data)["error"] == "The request's chunk lines and trailers are larger than the server accepts."
    deadline = time.monotonic() + 2
    while "/trailer" not in disconnects and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "/trailer" in disconnects


def test_too_many_trailer_lines_get_431(port: int) -> None:
    with connect(port) as sock:
        trailers = b"".join(b"x-t%d: v\r\n" % i for i in range(30))
        sock.sendall(CHUNKED % b"trailers" + b"1\r\na\r\n0\r\n" + trailers + b"\r\n")
        assert status(read_until_closed(sock)) == 431


def test_many_small_chunks_are_not_framing_abuse(port: int) -> None:
    with connect(port) as sock:
        chunks = b"1\r\nx\r\n" * 20000  # 6 bytes of framing for each byte of body, 120 KB of it
        sock.sendall(CHUNKED % b"" + chunks + b"0\r\nx-trailer: fine\r\n\r\n")
        assert sock.recv(65536).endswith(b"\r\n\r\n20000")


def test_a_head_that_never_ends_gets_408_after_header_timeout(port: int) -> None:
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")
        data = read_until_closed(sock)
        took = time.monotonic() - started
    assert status(data) == 408 and error_of(data)["detail"] == {"header_timeout": 0.6}
    assert LIMITS.header_timeout * 0.9 <= took < LIMITS.header_timeout + 2


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(port: int) -> None:
    with connect(port) as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""
        assert LIMITS.header_timeout * 0.9 <= time.monotonic() - started < LIMITS.header_timeout + 2


def test_the_head_deadline_restarts_after_each_answer(port: int) -> None:
    with connect(port) as sock:
        for _ in range(3):  # each answer gives the next head its own header_timeout
            time.sleep(LIMITS.header_timeout / 2)
            sock.sendall(post(b"abc"))
            assert sock.recv(65536).endswith(b"\r\n\r\n3")
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert status(read_until_closed(sock)) == 408


def test_a_body_that_stops_gets_408_and_the_app_a_disconnect(port: int) -> None:
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /stalled HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n[[5.9")
        data = read_until_closed(sock)
        took = time.monotonic() - started
    assert status(data) == 408 and error_of(data)["detail"] == {"body_timeout": 0.6}
    assert LIMITS.body_timeout * 0.9 <= took < LIMITS.body_timeout + 2
    deadline = time.monotonic() + 2
    while "/stalled" not in disconnects and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "/stalled" in disconnects


def test_a_slow_body_that_keeps_coming_is_not_timed_out(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\nconnection: close\r\n\r\n")
        for _ in range(6):  # 6 x 0.3 s: longer than body_timeout in all, never a gap that long
            time.sleep(LIMITS.body_timeout / 2)
            sock.sendall(b"x")
        assert read_until_closed(sock).endswith(b"\r\n\r\n6")


def test_a_body_the_app_has_not_read_yet_is_not_the_clients_gap(port: int) -> None:
    body = b"x" * (2 * 1024 * 1024)  # over uvicorn's high-water mark: reading pauses till the app reads
    with connect(port) as sock:
        sock.sendall(post(body, "/sleepy"))
        assert sock.recv(65536).endswith(b"\r\n\r\n%d" % len(body))


def test_an_answer_before_the_body_closes_the_connection_and_a_writing_client_still_reads_it(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"POST /early HTTP/1.1\r\nhost: x\r\ncontent-length: 2147483648\r\n\r\n")
        for _ in range(64):  # 4 MiB more before it reads: the server drains them while it closes
            sock.sendall(b"x" * 65536)
        data = read_until_closed(sock)
    assert status(data) == 413 and data.endswith(b"\r\n\r\nno") and b"connection: close\r\n" in data


def test_a_keep_alive_client_answered_before_its_body_is_told_to_reconnect(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(3):  # a pooled connection must not be reused after the server closed it
            early = client.post("/early", content=b"x" * (4 * 1024 * 1024))
            assert early.status_code == 413 and early.headers["connection"] == "close"
            assert client.post("/", content=b"abc").text == "3"


def test_an_early_answer_drains_up_to_linger_bytes_so_a_body_just_over_the_limit_gets_it() -> None:
    # found by reliability.fuzz: a 20.1 MiB body to a 20 MiB limit, written whole before reading,
    # was reset after 16 MiB of lingering, and its client never saw the 413
    limits = Limits(linger_bytes=48 * 1024 * 1024)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=LimitedHttpToolsProtocol.with_limits(limits),
                            log_level="warning", lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        body = b"x" * (40 * 1024 * 1024)  # beyond what the kernel buffers past a smaller linger
        with connect(port) as sock:
            sock.sendall(b"POST /early HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
            data = read_until_closed(sock)
        assert status(data) == 413 and data.endswith(b"no")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_body_answered_early_is_not_read_to_its_end(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"POST /early HTTP/1.1\r\nhost: x\r\ncontent-length: 2147483648\r\n\r\n")
        assert status(sock.recv(65536)) == 413
        sent = 0
        with pytest.raises(OSError):  # the server stops reading: reset, however fast we keep sending
            while sent < 2**31:
                sock.sendall(b"x" * 65536)
                sent += 65536
    assert sent < LINGER_BYTES + 16 * 1024 * 1024  # what the kernel buffers beyond the drained part


def test_keep_alive_and_pipelining_still_answer_every_request(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(post(b"a") + post(b"bb") + post(b"ccc")[:-1])
        time.sleep(0.1)
        sock.sendall(b"c" + b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        data = read_until_closed(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 4
    assert [part.split(b"HTTP/1.1")[0] for part in data.split(b"\r\n\r\n")[1:]] == [b"1", b"2", b"3", b"0"]


def test_malformed_http_gets_a_json_400(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nbad header\r\n\r\n")
        data = read_until_closed(sock)
    assert status(data) == 400 and error_of(data)["error"] == "The request is not valid HTTP/1.1."


def test_with_limits_makes_a_class_per_configuration() -> None:
    cls = LimitedHttpToolsProtocol.with_limits(LIMITS)
    assert issubclass(cls, LimitedHttpToolsProtocol) and cls.limits is LIMITS
    assert LimitedHttpToolsProtocol.limits == Limits()
