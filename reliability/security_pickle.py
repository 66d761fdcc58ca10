"""No pickle accepted anywhere: bodies that would create a marker file if anything unpickled them.

Every payload is first unpickled here, on a control marker of its own, so a payload that would
not fire cannot pass for a refused one. Then each is sent to the APIs of a running service and
to its runner sidecar's port (found from the tree's listening sockets) as
``application/python-pickle``, ``application/x-pickle``, ``application/octet-stream``,
``application/x-npy`` (an object-dtype ``.npy`` holding the pickle, and the raw pickle) and as
multipart parts. tiffin's own routes must answer 4xx; a mounted user app's routes are the
user's, and need only not fail (no 5xx). The marker must never appear and every worker must live.
"""

from __future__ import annotations

import io
import pickle
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np

from reliability.report import Figure
from reliability.security_http import post
from reliability.security_sockets import listeners
from reliability.target import REPO, Target
from runners.wire import values

SECTION = "security"
PICKLE_TYPES = ("application/python-pickle", "application/x-pickle", "application/octet-stream", "application/x-npy")


class Marker:
    """Unpickled, it creates ``path`` (through ``exec``, so the pickle names no class of ours)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.path)!r}, 'w').close()",)


SHORT_PROTOCOLS = (0, 2, 5)  # text, the first binary one, out-of-band buffers


def pickles(marker: Path, protocols: tuple[int, ...] = tuple(range(6))) -> list[tuple[str, bytes]]:
    return [(f"pickle protocol {p}", pickle.dumps(Marker(marker), protocol=p)) for p in protocols]


def object_npy(marker: Path) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([Marker(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def live(work: Path) -> list[str]:
    """Each payload, unpickled here on a marker of its own: the names of those that did not fire."""
    dead = []
    for name, data in pickles(work / "control"):
        (work / "control").unlink(missing_ok=True)
        pickle.loads(data)  # noqa: S301 - our own payload, the control that it fires
        if not (work / "control").exists():
            dead.append(name)
    (work / "control").unlink(missing_ok=True)
    np.load(io.BytesIO(object_npy(work / "control")), allow_pickle=True)  # noqa: S301 - the same control
    if not (work / "control").exists():
        dead.append("object .npy")
    (work / "control").unlink(missing_ok=True)
    return dead


def multipart(name: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.pkl"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--{boundary}--\r\n'.encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def bodies(marker: Path, short: bool = False) -> list[tuple[str, bytes, str]]:
    """(what, body, content type) for every payload under every content type."""
    found = []
    npy = object_npy(marker)
    for name, data in pickles(marker, SHORT_PROTOCOLS if short else tuple(range(6))):
        for content_type in PICKLE_TYPES:
            found.append((f"{name} as {content_type}", data, content_type))
    found.append(("object-dtype .npy as application/x-npy", npy, "application/x-npy"))
    found.append(("object-dtype .npy as application/octet-stream", npy, "application/octet-stream"))
    call = msgpack.packb([[msgpack.ExtType(values.NDARRAY, npy)], {}])  # the runner's own call format
    found.append(("object-dtype .npy inside a msgpack call", call, "application/vnd.tiffin.call+msgpack"))
    for part, data, content_type in (
        ("rows", pickle.dumps(Marker(marker), protocol=5), "application/python-pickle"),
        ("rows", pickle.dumps(Marker(marker), protocol=2), "application/octet-stream"),
        ("rows", npy, "application/x-npy"),
    ):
        body, multipart_type = multipart(part, data, content_type)
        found.append((f"a multipart part ({content_type})", body, multipart_type))
    return found


@dataclass(frozen=True)
class Endpoint:
    path: str
    own: bool  # a tiffin route (4xx expected) or a mounted user app's (no 5xx expected)


def runner_ports(target: Target) -> list[int]:
    """The runner sidecars' TCP ports, from the listening sockets of the tree."""
    found = listeners([info.pid for info in target.runner_workers()])
    return sorted({s.port for s in found if s.family != "unix"})


def probe(
    target: Target,
    label: str,
    endpoints: list[Endpoint],
    marker: Path,
    workers: Callable[[Target], set[int]],
    port: int | None = None,
    short: bool = False,
) -> Figure:
    before = workers(target)
    port = port or target.port
    sent = 0
    problems: list[str] = []
    statuses: dict[int, int] = {}
    for endpoint in endpoints:
        for what, body, content_type in bodies(marker, short):
            answer = post(target.host, port, endpoint.path, body, content_type)
            sent += 1
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            refused = 400 <= answer.status < 500 if endpoint.own else 0 < answer.status < 500
            if not refused:
                problems.append(f"POST {endpoint.path} {what}: {answer.status or 'no answer'}")
    fired = marker.exists()
    if fired:
        problems.insert(0, f"the marker {marker} was created: something unpickled a body")
    alive = target.alive() and workers(target) == before
    if not alive:
        problems.append("a worker died or the server exited")
    codes = ", ".join(f"{n}x{code or 'none'}" for code, n in sorted(statuses.items()))
    paths = ", ".join(e.path for e in endpoints)
    figure = (
        f"{sent} pickled bodies to {paths}: {codes}; marker created: {'YES' if fired else 'no'}; workers alive: {alive}"
    )
    return Figure(SECTION, f"no pickle accepted by {label}", figure, not problems, "; ".join(problems[:8]))


# Calls that would unpickle: their presence in app/ or runners/ fails the check.
UNSAFE = re.compile(
    r"\bpickle\.(loads?|Unpickler)\b|\bjoblib\.load\b|\bcloudpickle\b|\bdill\b|\bread_pickle\b"
    r"|\btorch\.load\b|allow_pickle\s*=\s*True|\bshelve\b|\bmarshal\.loads?\b"
)
# Loaders that are safe by construction, reported for the record.
NOTED = re.compile(r"\bnp\.load\(|\bnumpy\.load\(|\btorch\.jit\.load\b|\bskops_io\(\)\.loads\b|\.loads\(data, trusted")


def grep_sources() -> Figure:
    unsafe, noted = [], []
    for root in ("app", "runners"):
        for path in sorted((REPO / root).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                code = line.split("#", 1)[0]
                where = f"{path.relative_to(REPO)}:{number}"
                if UNSAFE.search(code) and not code.lstrip().startswith(('"', "'")):
                    unsafe.append(f"{where} {code.strip()}")
                elif NOTED.search(code):
                    noted.append(f"{where} {code.strip()}")
    figure = f"{len(unsafe)} unpickling calls in app/ and runners/; {len(noted)} safe loaders noted"
    detail = ("UNSAFE: " + "; ".join(unsafe) + ". " if unsafe else "") + "safe loaders: " + "; ".join(noted)
    return Figure(
        SECTION,
        "no unpickling call in the code (pickle/joblib/torch.load/allow_pickle=True/...)",
        figure,
        not unsafe,
        detail,
    )
