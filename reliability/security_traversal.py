"""Path traversal through every route that serves files: Swagger UI's assets, a ``StaticFiles``
mount, a mounted Flask app's static route, and the examples' mounts at ``/``.

A secret file lies beside the served directory (and outside the repository); every encoding of
``..`` a server might decode after checking the path is sent with a raw socket, so no client
normalises it. Pass: no answer holds the secret (or /etc/passwd), none is a 5xx or a dropped
connection, the served file itself still comes back (the route works), and no worker died.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.server.swagger import ASSETS_DIR
from reliability.report import Figure
from reliability.security_http import get
from reliability.target import REPO, Target

SECTION = "security"
PASSWD = b"root:x:0:0"


@dataclass(frozen=True)
class Planted:
    served: Path  # the directory the test service serves
    secret: Path  # beside it
    token: bytes  # the secret's content

    @classmethod
    def make(cls, work: Path) -> Planted:
        root = work / "security-files"
        served = root / "served"
        (served / "sub").mkdir(parents=True, exist_ok=True)
        (served / "index.txt").write_text("served-ok\n")
        (served / "sub" / "inner.txt").write_text("served-ok\n")
        token = f"tiffin-secret-{uuid.uuid4().hex}".encode()
        secret = root / "secret.txt"
        secret.write_bytes(token + b"\n")
        return cls(served, secret, token)


@dataclass(frozen=True)
class Route:
    label: str  # "Swagger UI assets (/static/swagger-ui)"
    prefix: str  # ends with "/"
    directory: Path  # what the prefix serves (need not exist)
    control: tuple[str, bytes] | None  # a served file and a piece of its content


def variants(relative: str, absolute: str) -> list[tuple[str, str]]:
    """``relative`` (from the served directory to the secret) and ``absolute``, encoded every way."""
    deep = "../" * 24
    return [
        ("../", relative),
        ("%2e%2e/", relative.replace("..", "%2e%2e")),
        ("%2e%2e%2f", relative.replace("..", "%2e%2e").replace("/", "%2f")),
        ("..%2f", relative.replace("/", "%2f")),
        ("%252e%252e%252f", relative.replace("..", "%252e%252e").replace("/", "%252f")),
        ("..\\", relative.replace("/", "\\")),
        ("..%5c", relative.replace("/", "%5c")),
        ("/..;/", relative.replace("../", "..;/")),
        ("sub/../../", "sub/../" + relative),
        ("absolute //path", absolute),
        ("absolute %2fpath", absolute.replace("/", "%2f")),
        ("deep ../ then the absolute path", deep + absolute.lstrip("/")),
        ("deep %2e%2e%2f", (deep + absolute.lstrip("/")).replace("..", "%2e%2e").replace("/", "%2f")),
        ("NUL %00 after", relative + "%00"),
        ("NUL %00 in a served name", "index.txt%00/" + relative),
        ("raw NUL byte", relative + "\0.txt"),
        ("overlong %c0%ae", relative.replace("..", "%c0%ae%c0%ae")),
        ("overlong %c0%ae%c0%af", relative.replace("..", "%c0%ae%c0%ae").replace("/", "%c0%af")),
        ("/etc/passwd, deep", deep + "etc/passwd"),
        ("/etc/passwd, encoded", "%2e%2e%2f" * 24 + "etc%2fpasswd"),
    ]


def probe(target: Target, route: Route, planted: Planted, workers: Callable[[Target], set[int]]) -> Figure:
    before = workers(target)
    relative = os.path.relpath(planted.secret, route.directory)
    sent = leaked = errors = 0
    problems: list[str] = []
    statuses: dict[int, int] = {}
    for name, tail in variants(relative, str(planted.secret)):
        answer = get(target.host, target.port, (route.prefix + tail).encode("latin-1"))
        sent += 1
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        if planted.token in answer.body or PASSWD in answer.body:
            leaked += 1
            problems.append(f"{name}: the secret came back ({answer.status})")
        elif answer.server_error:
            errors += 1
            problems.append(f"{name}: {answer.status or 'no answer'}")
    control = ""
    if route.control is not None:
        name, content = route.control
        answer = get(target.host, target.port, (route.prefix + name).encode())
        served = answer.status == 200 and content in answer.body
        control = f", {route.prefix}{name} {'served' if served else 'NOT served'}"
        if not served:
            problems.append(f"the control {route.prefix}{name} answered {answer.status}: the route is not probed")
    alive = target.alive() and workers(target) == before
    if not alive:
        problems.append("a worker died or the server exited")
    codes = ", ".join(f"{n}x{code or 'none'}" for code, n in sorted(statuses.items()))
    figure = f"{sent} paths: {leaked} leaks, {errors} 5xx/dropped ({codes}){control}, workers alive: {alive}"
    return Figure(SECTION, f"path traversal through {route.label}", figure, not problems, "; ".join(problems))


def swagger_route() -> Route:
    return Route(
        "Swagger UI assets (/static/swagger-ui/)", "/static/swagger-ui/", ASSETS_DIR, ("swagger-ui.css", b".swagger-ui")
    )


def static_routes(planted: Planted) -> list[Route]:
    """The security service's file routes (``reliability/services/static_files.py``)."""
    return [
        Route("a Starlette StaticFiles mount (/files/)", "/files/", planted.served, ("index.txt", b"served-ok")),
        Route(
            "a mounted Flask app's static route (/flask/assets/)",
            "/flask/assets/",
            planted.served,
            ("sub/inner.txt", b"served-ok"),
        ),
    ]


def example_routes(example: str) -> list[Route]:
    """What ``examples/<example>`` mounts at ``/``: Flask's default /static/ route, or FastAPI's paths."""
    if example.startswith("flask"):
        return [Route(f"{example}'s Flask mount at / (/static/)", "/static/", REPO / "examples" / "static", None)]
    return [Route(f"{example}'s FastAPI mount at / (/)", "/", REPO, None)]
