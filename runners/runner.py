"""``Runner``: the handle API code holds for a model, local or in a sidecar.

    runner = runners.sklearn.get("iris_clf:latest").to_runner()
    runner.predict.run(x)              # sync: from a worker thread, or a script with no loop
    await runner.predict.async_run(x)
    async for token in runner.generate.async_stream(prompt): ...   # a generator method
    runner.run(x)                      # the default method: the only one, or __call__ (as BentoML)
    runner.init_local()                # or: the model in this process, no sidecar
    runner.configure(url=..., timeout=...)   # else env TIFFIN_RUNNER_<NAME>_URL
    await runner.startup(); await runner.shutdown(); await runner.is_ready()

Remote calls take positional and keyword arguments, each any value ``runners.wire.values``
carries (arrays, DataFrames, strings, bytes, pydantic models, images, ...); one that cannot be sent
is refused here, naming it, before anything leaves the process. Concurrent calls of one
batchable method in one process are coalesced into one request (``runners.client.coalesce``,
``runners.wire.arguments``) unless batching is disabled (``configure(batching=...)``, from the
YAML's ``batching.enabled``).
``run`` submits the call
to the loop captured by ``startup()`` when that loop runs in another thread (the API worker's
threadpool case), else to a private background loop; on a thread that is running a loop it
refuses, since blocking there would deadlock that loop.

``init_local()`` calls the model directly, without batching: ``run`` in the calling thread
(allowed anywhere, even on a loop's thread, since nothing waits on the loop), ``async_run`` in
a thread of the loop's default executor. Same model code, simpler and predictable for tests
and notebooks; batching is the sidecar's job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runners import tracing
from runners.client.balancer import Balancer
from runners.client.coalesce import Lane
from runners.client.loopthread import background_loop
from runners.client.runner_client import RunnerClient
from runners.errors import DeadlineExceeded, RunnerUnavailable
from runners.imports import path_of
from runners.local_stream import local_values
from runners.runnable import MethodConfig, Runnable
from runners.spec import BatchingOptions, RunnerSpec, url_variable
from runners.wire import deadline as deadlines
from runners.wire.arguments import Arguments

if TYPE_CHECKING:
    from runners.store.model_store import StoredModel

logger = logging.getLogger("runners.runner")

_GRACE = 1.0  # seconds a sync caller waits beyond the call's own timeout before giving up on it


class RunnerMethod:
    def __init__(self, runner: Runner, name: str, config: MethodConfig) -> None:
        self.runner = runner
        self.name = name
        self.config = config

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self.runner._run(self.name, args, kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        return await self.runner._async_run(self.name, args, kwargs)

    def async_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """The values of a generator method, each as soon as the model yields it.

        ``async for token in runner.generate.async_stream(prompt)``; closing the iterator (or
        leaving the loop early) stops the model's generator.
        """
        return self.runner._stream(self.name, args, kwargs)
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``runner.run(x)`` where the method itself is named ``run`` (ONNX): the same as ``.run(x)``."""
        return self.run(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<RunnerMethod {self.runner.name}.{self.name} batchable={self.config.batchable}>"


class Runner:
    def __init__(
        self,
        runnable_class: type[Runnable],
        *,
        name: str | None = None,
        runnable_init_params: Mapping[str, Any] | None = None,
        max_batch_size: int | None = None,
        max_latency_ms: float | None = None,
        method_configs: Mapping[str, Mapping[str, Any]] | None = None,
        batching: BatchingOptions | None = None,
        model: StoredModel | None = None,
        workers: int | None = None,
        workers_per_resource: float | None = None,
    ) -> None:
        if not (isinstance(runnable_class, type) and issubclass(runnable_class, Runnable)):
            raise TypeError(f"Runner needs a runners.Runnable subclass, not {runnable_class!r}")
        self.name = name or runnable_class.__name__.lower()
        self.runnable_class = runnable_class
        self.runnable_init_params = dict(runnable_init_params or {})
        self.model = model
        configs = runnable_class.exposed_methods()
        for method, options in (method_configs or {}).items():
            if method not in configs:
                raise ValueError(f"method_configs names {method!r}, which {runnable_class.__name__} does not expose")
            configs[method] = MethodConfig.from_dict({**configs[method].to_dict(), **options})
        if not configs:
            raise ValueError(f"{runnable_class.__name__} exposes no @runners.method")
        self.methods = {m: RunnerMethod(self, m, c) for m, c in configs.items()}
        if "run" in self.methods:  # a method named run (ONNX's): runner.run.run(x) and runner.run(x) both call it
            self.run = self.methods["run"]  # type: ignore[method-assign]  # shadows the default-method shorthand
        base = batching or BatchingOptions()
        self.batching = BatchingOptions(
            enabled=base.enabled,
            max_batch_size=max_batch_size or base.max_batch_size,
            max_latency_ms=base.max_latency_ms if max_latency_ms is None else max_latency_ms,
            max_queue=base.max_queue,
        )
        self.workers = worker_count(workers, workers_per_resource)
        self._url: str | None = None
        self._timeout = 30.0
        self._local: Runnable | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remotes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Remote] = weakref.WeakKeyDictionary()

    @classmethod
    def for_model(
        cls,
        model: StoredModel,
        *,
        name: str | None = None,
        max_batch_size: int | None = None,
        max_latency_ms: float | None = None,
        workers: int | None = None,
        workers_per_resource: float | None = None,
    ) -> Runner:
        from runners.spec import runnable_for_model

        return cls(
            runnable_for_model(model),
            name=name or model.tag.name,
            runnable_init_params={"tag": str(model.tag), "store": str(model.path.parent.parent)},  # init_local
            max_batch_size=max_batch_size,
            max_latency_ms=max_latency_ms,
            model=model,
            workers=workers,
            workers_per_resource=workers_per_resource,
        )

    def spec(self, *, batching: BatchingOptions | Mapping[str, Any] | None = None) -> RunnerSpec:
        """What a sidecar needs to serve this runner; ``batching`` (e.g. from YAML) replaces its own."""
        options = self.batching if batching is None else BatchingOptions.coerce(batching)
        if self.model is not None:
            return RunnerSpec.for_model(self.name, str(self.model.tag), batching=options, workers=self.workers)
        return RunnerSpec.for_runnable(
            self.name,
            path_of(self.runnable_class),
            init_params=self.runnable_init_params,
            batching=options,
            workers=self.workers,
        )

    @property
    def default_method(self) -> RunnerMethod | None:
        """What ``run``/``async_run`` call: the only method, else ``__call__``, else none."""
        if len(self.methods) == 1:
            return next(iter(self.methods.values()))
        return self.methods.get("__call__")

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self._default().run(*args, **kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        return await self._default().async_run(*args, **kwargs)

    def _default(self) -> RunnerMethod:
        method = self.default_method
        if method is None:
            raise AttributeError(
                f"runner {self.name!r} has no default method (several methods, none named __call__): "
                f"call one of {', '.join(f'{self.name}.{m}.run' for m in self.methods)}"
            )
        return method

    def __getattr__(self, item: str) -> RunnerMethod:
        methods: dict[str, RunnerMethod] = self.__dict__.get("methods", {})
        if item in methods:
            return methods[item]
        raise AttributeError(f"runner {self.__dict__.get('name')!r} has no method {item!r}")

    def __repr__(self) -> str:
        return f"<Runner {self.name} methods={sorted(self.methods)}>"

    @property
    def is_local(self) -> bool:
        """Whether ``init_local()`` loaded the model into this process."""
        return self._local is not None

    @property
    def url(self) -> str | None:
        return self._url or os.environ.get(url_variable(self.name)) or None

    def configure(
        self,
        *,
        url: str | None = None,
        timeout: float | None = None,
        batching: BatchingOptions | Mapping[str, Any] | None = None,
    ) -> None:
        """Where the sidecar is, the calls' timeout, and the batching it was started with.

        ``batching`` tells the calling side how to coalesce: not at all when disabled, and at
        most ``max_batch_size`` rows per coalesced request.
        """
        if url is not None:
            self._url = url
        if timeout is not None:
            self._timeout = timeout
        if batching is not None:
            self.batching = BatchingOptions.coerce(batching)
        self._remotes = weakref.WeakKeyDictionary()  # the next call builds a client with these settings

    def init_local(self) -> None:
        if self._local is None:
            self._local = self.runnable_class(**self.runnable_init_params)

    async def startup(self) -> None:
        """Once per process, on the loop that serves requests: capture it and open the pool."""
        if self._local is not None:
            return
        self._loop = asyncio.get_running_loop()
        if self.url is not None:
            self._client()
        else:
            logger.warning(
                "runner %s has no URL: set %s, configure(url=...), or call init_local()",
                self.name,
                url_variable(self.name),
            )

    async def shutdown(self) -> None:
        remote = self._remotes.pop(asyncio.get_running_loop(), None)
        if remote is not None:
            await remote.aclose()

    async def is_ready(self) -> bool:
        if self._local is not None:
            return True
        if self.url is None:
            return False
        return await self._client().ready()

    def _client(self) -> RunnerClient:
        return self._remote().client

    def _remote(self) -> _Remote:
        loop = asyncio.get_running_loop()
        remote = self._remotes.get(loop)
        if remote is None:
            url = self.url
            if url is None:
                raise RunnerUnavailable(
                    f"Runner {self.name!r} has no URL.",
                    detail=f"set {url_variable(self.name)}, call configure(url=...), or init_local()",
                )
            balancer = Balancer(url)
            client = RunnerClient(self.name, url, timeout=self._timeout, balancer=balancer)
            remote = self._remotes[loop] = _Remote(client, self._lanes(client, balancer))
        return remote

    def _lanes(self, client: RunnerClient, balancer: Balancer) -> dict[str, Lane]:
        if not self.batching.enabled:
            return {}

        def replicas() -> int:  # one merged request in flight per runner process: each batches its own
            return balancer.size or 1

        lanes = {}
        for name, method in self.methods.items():
            if method.config.batchable:

                async def send(value: Arguments, deadline: float | None, method: str = name) -> Any:
                    return await client.call(method, value, deadline=deadline)

                lanes[name] = Lane(
                    send,
                    batch_dim=method.config.batch_dim,
                    max_rows=self.batching.max_batch_size,
                    name=f"runner {self.name}.{name}",
                    max_inflight=replicas,
                )
        return lanes

    def _local_method(self, method: str) -> Any:
        if self._local is None:
            raise RuntimeError(f"runner {self.name!r} is not local: call init_local() first")
        return getattr(self._local, method)

    def _run(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        _not_a_stream(self, method)
        if self._local is not None:
            return self._local_method(method)(*args, **kwargs)
        value = Arguments(args, kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                f"{self.name}.{method}.run() was called on a thread that runs an event loop; waiting there "
                f"would block (deadlock) that loop. Use `await {self.name}.{method}.async_run(...)` in async code."
            )
        loop = self._loop if self._loop is not None and self._loop.is_running() else background_loop()
        deadline = deadlines.current()
        future = asyncio.run_coroutine_threadsafe(self._call(method, value, deadline), loop)
        limit = self._timeout if deadline is None else min(self._timeout, max(0.0, deadline - time.time()))
        try:
            return future.result(limit + _GRACE)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeadlineExceeded(f"Runner {self.name!r} did not answer in time.") from None

    def _stream(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        if not self.methods[method].config.stream:
            raise TypeError(f"{self.name}.{method} is not a generator: call it with run() or async_run()")
        if self._local is not None:
            return local_values(self._local_method(method)(*args, **kwargs))
        return self._client().stream(method, Arguments(args, kwargs), deadline=deadlines.current())

    async def _async_run(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        _not_a_stream(self, method)
        if self._local is not None:
            return await asyncio.to_thread(self._local_method(method), *args, **kwargs)
        return await self._call(method, Arguments(args, kwargs), deadlines.current())

    async def _call(self, method: str, value: Arguments, deadline: float | None) -> Any:
        remote = self._remote()
        lane = remote.lanes.get(method)
        if tracing.is_on():  # one span per caller, even when the lane merges calls into one request
            with tracing.span(f"runner {self.name}.{method}", kind="client", attributes=_attributes(self.name, method)):
                if lane is not None:
                    return await lane.call(value, deadline)
                return await remote.client.call(method, value, deadline=deadline)
        if lane is not None:
            return await lane.call(value, deadline)
        return await remote.client.call(method, value, deadline=deadline)


@dataclass(eq=False)
class _Remote:
    """What one event loop uses to reach the sidecar: the client, and a lane per batchable method."""

    client: RunnerClient
    lanes: dict[str, Lane]

    async def aclose(self) -> None:
        await asyncio.gather(*(lane.aclose() for lane in self.lanes.values()))
        await self.client.aclose()


def worker_count(workers: int | None, workers_per_resource: float | None, cpus: int | None = None) -> int:
    """How many sidecar processes serve a runner: ``workers``, or BentoML's ``workers_per_resource`` × the CPUs."""
    if workers is not None and workers_per_resource is not None:
        raise ValueError("give workers or workers_per_resource, not both")
    if workers_per_resource is not None:
        if not workers_per_resource > 0:
            raise ValueError(f"workers_per_resource must be more than 0, not {workers_per_resource!r}")
        return max(1, math.floor(workers_per_resource * (cpus or os.cpu_count() or 1)))
    if workers is None:
        return 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, not {workers!r}")
    return workers


def _not_a_stream(runner: Runner, method: str) -> None:
    if runner.methods[method].config.stream:
        raise TypeError(f"{runner.name}.{method} is a generator: iterate runner.{method}.async_stream(...)")


def _attributes(runner: str, method: str) -> dict[str, str]:
    return {"tiffin.runner": runner, "tiffin.runner.method": method}
