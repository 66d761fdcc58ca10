"""``X-Request-ID`` on every response: the caller's, or a new one."""

from __future__ import annotations

import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.sdk import context

HEADER = b"x-request-id"
_MAX_LEN = 200


def new_request_id() -> str:
    # 128 random bits, from the random module rather than os.urandom: no system call per request,
    # and each forked worker's generator is reseeded by the random module itself.
    return f"{random.getrandbits(128):032x}"


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            text: str = value.decode("latin-1").strip()
            if text and len(text) <= _MAX_LEN and text.isprintable():
                return text
            return None
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        raw = rid.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                headers.append((HEADER, raw))
                message["headers"] = headers
            await send(message)

        token = context.set_request_id(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context.reset_request_id(token)
