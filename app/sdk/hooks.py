"""Lifecycle hooks: ``on_deployment`` once per start, ``on_startup``/``on_shutdown`` in every worker.

    @svc.on_deployment            # the gunicorn master, or the ``tiffin serve`` supervisor,
    def fetch_weights(): ...      # before any worker starts; no context

    @svc.on_startup               # each worker, before it serves; sync or async
    async def connect(ctx): ctx.state["db"] = await connect_db()

    @svc.on_shutdown              # each worker, after it stops serving
    async def close(ctx): await ctx.state["db"].close()

Hooks run in the order they were added. A sync hook runs in a worker thread, as sync APIs do,
so it may call ``runner.method.run(...)``. A deployment or startup hook that raises stops the
start: ``HookFailed``, whose ``str()`` is one line naming the hook, and exit code 2. A shutdown
hook that raises is logged and the others still run.

This module stays light (``tiffin serve`` imports it before the service): signatures are read
by ``app.sdk.signatures``, imported when a hook is declared.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Hook", "HookFailed", "HookKind", "run_deployment_hooks", "run_hooks"]

HookKind = Literal["on_deployment", "on_startup", "on_shutdown"]

logger = logging.getLogger("tiffin.hooks")


class HookFailed(Exception):
    """A hook raised while the server started; ``str()`` is one line naming the hook and the error."""


@dataclass(frozen=True)
class Hook:
    kind: HookKind
    func: Callable[..., Any]
    takes_context: bool
    is_method: bool = False
    """A method of an ``@service`` class, called on the live instance."""

    @classmethod
    def make(cls, kind: HookKind, func: Callable[..., Any], *, is_method: bool = False) -> Hook:
        from app.sdk.signatures import hook_takes_context

        func = func.__func__ if isinstance(func, staticmethod) else func
        return cls(kind, func, hook_takes_context(func, kind=kind, is_method=is_method), is_method)

    @property
    def name(self) -> str:
        from app.sdk.signatures import where

        return f"{where(self.func)} {getattr(self.func, '__qualname__', repr(self.func))}"

    def bound(self, instance: Any, context: Any) -> Callable[[], Any]:
        func = self.func.__get__(instance) if self.is_method else self.func
        return (lambda: func(context)) if self.takes_context else func

    def failure(self, exc: BaseException) -> HookFailed:
        message = " ".join(str(exc).split())
        raised = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        return HookFailed(f"{self.kind} hook {self.name} raised {raised}")


def run_deployment_hooks(hooks: Sequence[Hook]) -> None:
    """Run the ``on_deployment`` hooks here and now (no event loop runs yet in the master)."""
    for hook in hooks:
        try:
            result = hook.func()
            if inspect.isawaitable(result):
                import asyncio

                asyncio.run(_awaited(result))
        except Exception as exc:
            logger.error("%s hook %s failed", hook.kind, hook.name, exc_info=exc)
            raise hook.failure(exc) from exc


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def run_hooks(hooks: Sequence[Hook], instance: Any, context: Any, *, strict: bool) -> None:
    """Run worker hooks in order; ``strict`` (startup): the first failure raises ``HookFailed``."""
    import anyio.to_thread

    for hook in hooks:
        call = hook.bound(instance, context)
        try:
            if inspect.iscoroutinefunction(hook.func):
                await call()
            else:
                result = await anyio.to_thread.run_sync(call)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            logger.error("%s hook %s failed", hook.kind, hook.name, exc_info=exc)
            if strict:
                raise hook.failure(exc) from exc
