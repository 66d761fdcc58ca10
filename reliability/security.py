"""Security checks (issue 15, item 6), against real ``tiffin serve`` processes:

- bindings: the API on ``server.host``, every runner sidecar on 127.0.0.1 or a Unix socket in a
  private directory, also with ``server.host: 0.0.0.0`` (``security_binding``);
- path traversal through every route that serves files, ``..`` encoded every way
  (``security_traversal``);
- ``tiffin models import`` of hostile archives and of pickled model files (``security_archive``);
- no pickle accepted by any API or runner sidecar, and no unpickling call in the code
  (``security_pickle``).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable

from reliability import security_archive, security_binding, security_pickle, security_traversal
from reliability.report import Figure
from reliability.security_pickle import Endpoint
from reliability.security_serve import serving
from reliability.target import Run, Target

SECTION = "security"
STATIC_SERVICE = "reliability/services/static_files.py:svc"
ONE_WORKER = {"server": {"workers": 1}}  # what is probed here is the app, not the worker count


def workers(target: Target) -> set[int]:
    return {info.pid for info in target.api_workers()} | {info.pid for info in target.runner_workers()}


def _guarded(name: str, part: Callable[[], list[Figure]]) -> list[Figure]:
    started = time.monotonic()
    try:
        return part()
    except Exception as exc:  # one part that breaks is a failed check; the others still run
        return [Figure(SECTION, name, f"raised {type(exc).__name__}: {exc}", False)]
    finally:
        print(f"reliability: security: {name} took {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def default_service(run: Run) -> list[Figure]:
    marker = run.work / "security-pickle-default"
    with serving(run, "security-default") as target:
        found = security_binding.settled(target.pid, 2, 1, 30.0)
        figures = [
            security_binding.judge(
                "the default service (server.host 127.0.0.1)", found, (target.host, target.port), 1, 1
            )
        ]
        figures.append(security_traversal.probe(target, security_traversal.swagger_route(), planted(run), workers))
        figures.append(
            security_pickle.probe(
                target,
                "the default service (POST /classify)",
                [Endpoint("/classify", True)],
                marker,
                workers,
                short=run.short,
            )
        )
        ports = security_pickle.runner_ports(target)
        figures.append(
            security_pickle.probe(
                target,
                f"the runner sidecar's own port ({', '.join(map(str, ports))})",
                [Endpoint("/predict", True)],
                marker,
                workers,
                port=ports[0] if ports else -1,
                short=run.short,
            )
            if ports
            else Figure(SECTION, "no pickle accepted by the runner sidecar", "no runner TCP port found", False)
        )
    return figures


def planted(run: Run) -> security_traversal.Planted:
    return security_traversal.Planted.make(run.work)


def static_service(run: Run) -> list[Figure]:
    files = planted(run)
    marker = run.work / "security-pickle-static"
    env = {"TIFFIN_SECURITY_SERVED": str(files.served)}
    with serving(run, "security-static", ONE_WORKER, service=STATIC_SERVICE, env=env) as target:
        figures = [
            security_traversal.probe(target, route, files, workers) for route in security_traversal.static_routes(files)
        ]
        endpoints = [Endpoint("/classify", True), Endpoint("/form", True)]
        figures.append(
            security_pickle.probe(
                target, "a service with ndarray and multipart APIs", endpoints, marker, workers, short=run.short
            )
        )
    return figures


EXAMPLES = {
    "fastapi_service.py": [
        Endpoint("/predict_bentoml", True),
        Endpoint("/predict_fastapi", False),
        Endpoint("/predict_fastapi_async", False),
    ],
    "flask_service.py": [Endpoint("/predict_bentoml", True), Endpoint("/predict_flask", False)],
}


def example(run: Run, name: str) -> list[Figure]:
    files = planted(run)
    marker = run.work / f"security-pickle-{name}"
    with serving(run, f"security-{name.removesuffix('.py')}", ONE_WORKER, service=f"examples/{name}:svc") as target:
        figures = [
            security_traversal.probe(target, route, files, workers) for route in security_traversal.example_routes(name)
        ]
        label = f"examples/{name}"
        figures.append(security_pickle.probe(target, label, EXAMPLES[name], marker, workers, short=run.short))
    return figures


def controls(run: Run) -> list[Figure]:
    """The payloads fire when unpickled here; the code holds no unpickling call."""
    dead = security_pickle.live(run.work)
    fired = Figure(
        SECTION,
        "the pickles fire when unpickled (the control)",
        f"{7 - len(dead)}/7 payloads created their marker",
        not dead,
        ", ".join(dead),
    )
    return [fired, security_pickle.grep_sources()]


def examples(run: Run) -> list[Figure]:
    figures = []
    for name in EXAMPLES:
        figures += _guarded(f"examples/{name}", functools.partial(example, run, name))
    return figures


PARTS: dict[str, Callable[[Run], list[Figure]]] = {
    "controls": controls,
    "the default service": default_service,
    "the static files service": static_service,
    "the examples": examples,
    "bindings": security_binding.more,
    "archives": security_archive.archives,
    "pickled models": security_archive.pickled_models,
}
"""Each part starts and stops its own processes; the test suite runs them one test each."""


def run(run: Run) -> list[Figure]:
    figures: list[Figure] = []
    for name, part in PARTS.items():
        figures += _guarded(name, functools.partial(part, run))
    return figures
