"""Lifecycle hooks in-process: order, sync and async, the shared state, failures, both styles."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from app import Context, Service, api, on_deployment, on_shutdown, on_startup, service
from app.io import JSON
from app.sdk.hooks import HookFailed, run_deployment_hooks
from app.sdk.signatures import SignatureError
from app.server.application import build_app


def test_startup_and_shutdown_hooks_run_in_order_with_one_shared_context() -> None:
    svc = Service("hooked")
    events: list[str] = []
    contexts: list[Context] = []

    @svc.on_startup
    def first(ctx: Context) -> None:
        events.append("first")
        contexts.append(ctx)
        ctx.state["n"] = 1

    @svc.on_startup
    async def second(ctx: Context) -> None:
        await asyncio.sleep(0)
        events.append("second")
        contexts.append(ctx)
        ctx.state["n"] += 1

    @svc.on_startup
    def no_context() -> None:
        events.append("bare")

    @svc.on_shutdown
    async def closing(ctx: Context) -> None:
        events.append(f"closing n={ctx.state['n']}")

    @svc.api(input=JSON(), output=JSON())
    def read(body: Any, ctx: Context) -> Any:
        return ctx.state["n"]

    with TestClient(svc.to_asgi()) as client:
        assert events == ["first", "second", "bare"]
        assert client.post("/read", json={}).json() == 2
    assert events[-1] == "closing n=2"
    assert contexts[0] is contexts[1]
    assert svc.state == {"n": 2}


def drive_lifespan(app: Any) -> list[dict[str, Any]]:
    """The raw ASGI lifespan exchange: startup, then shutdown if it started."""
    sent: list[dict[str, Any]] = []
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})

    async def main() -> None:
        await inbox.put({"type": "lifespan.startup"})
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send)

    asyncio.run(main())
    return sent


def test_a_raising_startup_hook_fails_the_start_with_one_line(caplog: pytest.LogCaptureFixture) -> None:
    svc = Service("fragile")
    reported: list[str] = []
    ran: list[str] = []

    @svc.on_startup
    def connect(ctx: Context) -> None:
        raise ConnectionError("database\nunreachable")

    @svc.on_startup
    def never(ctx: Context) -> None:
        ran.append("never")

    @svc.on_shutdown
    def not_after_a_failed_start(ctx: Context) -> None:
        ran.append("shutdown")

    with caplog.at_level(logging.ERROR):
        sent = drive_lifespan(build_app(svc, on_start_failure=reported.append))
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    line = sent[0]["message"]
    assert reported == [line]
    assert "\n" not in line
    assert line.startswith("on_startup hook tests/app/sdk/test_hooks.py:")
    assert "connect raised ConnectionError: database unreachable" in line
    assert ran == []
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)  # the traceback is logged


def test_a_raising_shutdown_hook_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    svc = Service("closing")
    ran: list[str] = []

    @svc.on_shutdown
    def broken(ctx: Context) -> None:
        raise RuntimeError("cannot close")

    @svc.on_shutdown
    async def fine(ctx: Context) -> None:
        ran.append("fine")

    with caplog.at_level(logging.ERROR, logger="tiffin.hooks"):
        sent = drive_lifespan(build_app(svc))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert ran == ["fine"]
    assert "broken" in caplog.text


def test_deployment_hooks_run_when_asked_sync_and_async_and_fail_with_one_line() -> None:
    svc = Service("deployed")
    ran: list[str] = []

    @svc.on_deployment
    def download() -> None:
        ran.append("sync")

    @svc.on_deployment
    async def warm() -> None:
        ran.append("async")

    with TestClient(svc.to_asgi()):
        assert ran == []  # never in a worker
    run_deployment_hooks(svc.hooks["on_deployment"])
    assert ran == ["sync", "async"]

    @svc.on_deployment
    def broken() -> None:
        raise OSError("disk full")

    line = r"^on_deployment hook tests/app/sdk/test_hooks\.py:\d+ .*broken raised OSError: disk full$"
    with pytest.raises(HookFailed, match=line):
        run_deployment_hooks(svc.hooks["on_deployment"])


def test_class_style_hooks_run_on_the_live_instance() -> None:
    ran: list[str] = []

    @service
    class Model:
        def __init__(self) -> None:
            self.ready = False
            ran.append("init")

        @on_deployment
        def fetch() -> None:
            ran.append("deploy")

        @on_deployment
        @staticmethod
        def fetch_more() -> None:
            ran.append("deploy-static")

        @on_startup
        async def warm(self, ctx: Context) -> None:
            self.ready = True
            ctx.state["instance"] = self
            ran.append("startup")

        @on_shutdown
        def close(self) -> None:
            ran.append(f"shutdown ready={self.ready}")

        @api
        def ready_now(self, ctx: Context) -> bool:
            return self.ready and ctx.state["instance"] is self

    run_deployment_hooks(Model.hooks["on_deployment"])
    assert ran == ["deploy", "deploy-static"]
    with TestClient(Model.to_asgi()) as client:
        assert ran[2:] == ["init", "startup"]
        assert client.post("/ready_now").json() is True
    assert ran[-1] == "shutdown ready=True"


def test_hook_signatures_are_checked_when_the_hook_is_declared() -> None:
    svc = Service("checked")
    with pytest.raises(SignatureError, match=r"test_hooks\.py:\d+: on_startup hook .*two_things: requires a, b"):

        @svc.on_startup
        def two_things(a: Any, b: Any) -> None: ...

    with pytest.raises(SignatureError, match="on_deployment hook .*wants_ctx: requires ctx"):

        @svc.on_deployment
        def wants_ctx(ctx: Context) -> None: ...

    with pytest.raises(SignatureError, match="needs 'self'"):

        @service
        class NoSelf:
            @on_startup
            def warm() -> None: ...
