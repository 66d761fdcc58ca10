"""A service that records its lifecycle hooks as files, for the process tests.

``HOOKS_DIR`` is where each hook writes ``<hook>-<pid>``; ``HOOKS_FAIL`` names a hook that
raises instead (``deployment`` or ``startup``).
"""

from __future__ import annotations

import os
from pathlib import Path

from app import Context, Service
from app.io import JSON, Text

svc = Service("hooks")


def record(name: str) -> None:
    Path(os.environ["HOOKS_DIR"], f"{name}-{os.getpid()}").write_text(name)


@svc.on_deployment
def prepare() -> None:
    if os.environ.get("HOOKS_FAIL") == "deployment":
        raise RuntimeError("the weights are not there")
    record("deployment")


@svc.on_startup
async def connect(ctx: Context) -> None:
    if os.environ.get("HOOKS_FAIL") == "startup":
        raise ConnectionError("no database")
    ctx.state["worker"] = os.getpid()
    record("startup")


@svc.on_shutdown
def close(ctx: Context) -> None:
    record("shutdown")


@svc.api(input=JSON(), output=JSON())
def whoami(body: object, ctx: Context) -> dict[str, object]:
    return {
        "worker": ctx.state["worker"],
        "pid": os.getpid(),
        "agent": ctx.request.headers.get("user-agent"),
        "query": dict(ctx.request.query_params),
        "cookie": ctx.request.cookies.get("flavour"),
        "client": ctx.client_address,
        "request_id": ctx.request_id,
    }


@svc.api(input=Text(), output=Text())
async def use_context(inp: str, ctx: Context) -> str:
    if "error" in ctx.request.query_params:
        ctx.response.status_code = 400
        return ctx.request.query_params["error"]
    ctx.response.status_code = 201
    ctx.response.headers["x-echo"] = inp
    ctx.response.set_cookie("echoed", inp, httponly=True)
    return inp
