"""``ModelHost``: one copy of a runner's model and a batcher per method, independent of HTTP.

The model is resolved and instantiated on the model thread, so the event loop keeps answering
probes while it loads, and thread-affine libraries see one thread for load and inference alike.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Literal

from runners.errors import InvalidInput, RunnerUnavailable, UnknownMethod
from runners.runnable import Runnable
from runners.sidecar.batching import Batcher, ModelWorker
from runners.sidecar.model_stream import ModelStream
from runners.sidecar.runner_metrics import MethodMetrics, RunnerMetrics
from runners.spec import Resolved, RunnerSpec, resolve
from runners.store.model_store import ModelStore
from runners.wire.arguments import Arguments

logger = logging.getLogger("runners.sidecar.host")

State = Literal["loading", "ready", "failed", "draining", "closed"]


class ModelHost:
    def __init__(self, spec: RunnerSpec, *, metrics: RunnerMetrics | None = None, store: ModelStore | None = None):
        self.spec = spec
        self.state: State = "loading"
        self.error: str | None = None
        self.resolved: Resolved | None = None
        self._metrics = metrics
        self._store = store
        self._worker = ModelWorker(spec.name)
        self._batchers: dict[str, Batcher] = {}
        self._streams: dict[str, ModelStream] = {}
        self._method_metrics: dict[str, MethodMetrics] = {}
        self.calls = 0  # calls this process took: /info shows how a runner's workers share the load

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    async def load(self) -> None:
        started = time.monotonic()
        try:
            resolved = await self._worker.run(resolve, self.spec, self._store)
            instance: Runnable = await self._worker.run(lambda: resolved.runnable_class(**resolved.init_params))
        except Exception as exc:
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            logger.exception("runner %s failed to load", self.spec.name)
            raise
        self.resolved = resolved
        for name, config in resolved.methods.items():
            observer = self._metrics.for_method(self.spec.name, name) if self._metrics else None
            if observer is not None:
                self._method_metrics[name] = observer
            if config.stream:
                full_name = f"{self.spec.name}.{name}"
                self._streams[name] = ModelStream(getattr(instance, name), worker=self._worker, name=full_name)
                continue
            self._batchers[name] = Batcher(
                getattr(instance, name),
                config=config,
                options=self.spec.batching,
                worker=self._worker,
                observer=observer,
                name=f"{self.spec.name}.{name}",
                inline=not resolved.runnable_class.THREAD_AFFINE,
            )
        if self.state == "loading":
            self.state = "ready"
        logger.info(
            "runner %s ready in %.2fs: %s, methods %s",
            self.spec.name,
            time.monotonic() - started,
            resolved.model.tag if resolved.model else self.spec.runnable,
            ", ".join(resolved.methods),
        )

    def serves(self, method: str) -> bool:
        """Whether ``method`` is a method of the loaded model (``False`` while it loads)."""
        return method in self._batchers or method in self._streams

    def stream(self, method: str) -> ModelStream | None:
        """The loaded model's generator method ``method``, if it is one."""
        return self._streams.get(method)

    def method_metrics(self, method: str) -> MethodMetrics | None:
        return self._method_metrics.get(method)

    async def call(self, method: str, value: Arguments, deadline: float | None = None) -> Any:
        batcher = self._batchers.get(method)
        if batcher is None:
            if method in self._streams:
                raise InvalidInput(f"Method {method!r} streams its values: call it with async_stream().")
            if self.resolved is None:
                message = "The runner's model failed to load." if self.error else "The runner is loading its model."
                raise RunnerUnavailable(message, detail=self.error, retry_after=1.0)
            raise UnknownMethod(f"The runner has no method {method!r}.", detail={"methods": sorted(self._batchers)})
        self.calls += 1
        return await batcher.submit(value, deadline)

    def drain(self) -> None:
        """Stop reporting ready (from SIGTERM on); requests already arriving are still served."""
        if self.state in ("loading", "ready"):
            self.state = "draining"

    async def close(self) -> None:
        self.drain()
        for batcher in self._batchers.values():
            await batcher.close()
        self._worker.close()
        self.state = "closed"

    def describe(self) -> dict[str, Any]:
        resolved = self.resolved
        return {
            "name": self.spec.name,
            "state": self.state,
            "model": str(resolved.model.tag) if resolved and resolved.model else self.spec.model,
            "runnable": self.spec.runnable,
            "framework": resolved.framework if resolved else None,
            "methods": {n: c.to_dict() for n, c in resolved.methods.items()} if resolved else {},
            "batching": {
                "enabled": self.spec.batching.enabled,
                "max_batch_size": self.spec.batching.max_batch_size,
                "max_latency_ms": self.spec.batching.max_latency_ms,
                "max_queue": self.spec.batching.max_queue,
            },
            "workers": self.spec.workers,
            "process": {"pid": os.getpid(), "calls": self.calls},
        }
