"""HTTP/1.1 over a plain socket: the request line goes out byte for byte, as no client library sends it."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the connection closed, or timed out, before a status line
    body: bytes  # everything after the status line: headers and body

    @property
    def server_error(self) -> bool:
        return self.status >= 500 or self.status == 0


def exchange(host: str, port: int, raw: bytes, timeout: float = 10.0) -> Answer:
    chunks = []
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(raw)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        pass
    data = b"".join(chunks)
    line, _, rest = data.partition(b"\r\n")
    parts = line.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else 0
    return Answer(status, rest)


def get(host: str, port: int, target: bytes, timeout: float = 10.0) -> Answer:
    raw = b"GET " + target + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n"
    return exchange(host, port, raw, timeout)


def post(host: str, port: int, path: str, body: bytes, content_type: str, timeout: float = 10.0) -> Answer:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return exchange(host, port, head.encode() + body, timeout)
