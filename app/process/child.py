"""One child process of a supervisor: started, watched, asked whether it is ready, stopped.

A child runs in its own session and gets SIGTERM if its supervisor dies, so nothing is left
behind. A child with ``capture=True`` has its stderr read by a thread that passes every line on
to the supervisor's own stderr and keeps the last ones: when the child dies at start, they are
its last error. (Runner workers log little; the API server's access log goes straight through.)
A child with a ``probe`` socket is ready once ``GET /readyz`` on that Unix socket answers 200.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

logger = logging.getLogger("tiffin.serve")

_PR_SET_PDEATHSIG = 1
_TAIL_LINES = 20


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor itself is killed, so nothing is left behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def describe_exit(code: int | None) -> str:
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def probe_ready(path: str, timeout: float = 0.5) -> bool:
    """Whether the server on Unix socket ``path`` answers ``GET /readyz`` with 200."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /readyz HTTP/1.1\r\nhost: supervisor\r\nconnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return False
    return head.startswith(b"HTTP/1.1 200")


@dataclass(eq=False)
class Child:
    role: str
    argv: list[str]
    env: dict[str, str]
    pass_fds: Sequence[int] = ()
    probe: str | None = None  # a Unix socket whose /readyz tells when the child is ready
    capture: bool = False
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL_LINES))
    _reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        """Start the process (again, after it died): the old one's state is forgotten."""
        if self.process is not None and self.process.poll() is None:
            return
        self.ready = False
        self.tail.clear()
        logger.debug("starting %s: %s", self.role, " ".join(self.argv))
        self.process = subprocess.Popen(  # noqa: S603 - our own command line, built by the supervisor
            self.argv,
            env={**self.env, **(extra_env or {})},
            start_new_session=True,
            preexec_fn=_die_with_parent,
            pass_fds=tuple(self.pass_fds),
            stderr=subprocess.PIPE if self.capture else None,
        )
        if self.capture and self.process.stderr is not None:
            self._reader = threading.Thread(
                target=self._pass_on, args=(self.process.stderr,), name=f"log-{self.role}", daemon=True
            )
            self._reader.start()

    def _pass_on(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for raw in iter(stream.readline, b""):
                sys.stderr.buffer.write(raw)
                sys.stderr.buffer.flush()
                line = raw.decode(errors="replace").rstrip()
                if line:
                    self.tail.append(line)
        stream.close()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def check_ready(self) -> bool:
        """Probe the child once if it is not known ready yet; ``ready`` stays true until it restarts."""
        if not self.ready and self.probe is not None and self.exited() is None:
            self.ready = probe_ready(self.probe)
        return self.ready

    def last_error(self) -> str:
        """How the process ended, and the last lines it wrote to stderr (when captured)."""
        self.flush()
        lines = list(self.tail)[-5:]
        how = describe_exit(self.exited())
        return how if not lines else f"{how}; its last output:\n    " + "\n    ".join(lines)

    def flush(self, timeout: float = 1.0) -> None:
        """Wait a moment for the reader to take in the rest of a dead child's output."""
        if self._reader is not None and self.exited() is not None:
            self._reader.join(timeout)

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)

    def wait(self, grace: float) -> int | None:
        """Wait up to ``grace`` seconds for the child to exit, then kill its whole session."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0fs; killing it", self.role, grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def stop(self, grace: float) -> int | None:
        self.signal(signal.SIGTERM)
        code = self.wait(grace)
        self.reap_group()
        return code

    def reap_group(self) -> None:
        """SIGTERM whatever is left in the child's session once the child itself has exited.

        A gunicorn master killed outright leaves its workers behind, still holding the port;
        they are in its session (each child starts one), so they are found by its group id.
        """
        if self.process is not None and self.process.poll() is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
