"""``tiffin serve``: the runner workers and the API server as child processes of one command, healed.

Every runner without a URL gets its workers (``app.process.runner_pool``): one TCP port on
127.0.0.1 (port + 1, + 2, ... per runner) shared by its workers, and a Unix socket per worker in
a private directory made for this run. The API server starts at the same time, with the
sockets' URLs (``http+unix://``: the hop costs both sides some 20% less CPU than loopback TCP),
and reports ready once every runner has a ready worker.

``Supervisor`` keeps them running, as gunicorn's arbiter keeps its workers:

- the first worker of a runner starts at once, the others once it is ready: readiness needs
  one, and loading the rest beside it on the same cores would only delay it;
- a runner worker that dies is started again, after a backoff that grows while it keeps dying
  before it is ready (0.25 s, 0.5 s, 1 s, ...) and is reset once it is ready; each restart is
  logged, and counted by the new worker in ``tiffin_runner_restarts_total``. Meanwhile the API
  server's balancer steps around the dead worker, or answers 503 + Retry-After when the runner
  has no worker left, and finds the worker again by itself once it is back;
- a worker that keeps dying at start (``MAX_START_FAILURES`` times in a row before it was ever
  ready, or at once when it says its model or config cannot load) stops everything: exit 1,
  with its last error in the log;
- the API server's gunicorn master respawns its own workers; if the master itself exits, the
  rest are stopped and ``serve`` exits 1;
- SIGTERM or Ctrl-C: the API server drains first, the runners stop last, exit 0.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from app.config.schema import TiffinConfig, check_imports
from app.process.child import Child, describe_exit
from app.process.launch import DEPLOYED_ENV, EXIT_START_FAILED
from app.process.runner_pool import RESTARTED_ENV, RunnerPool, runner_cli
from runners.spec import RunnerSpec, url_variable

logger = logging.getLogger("tiffin.serve")

MAX_START_FAILURES = 5
FIRST_BACKOFF = 0.25  # seconds before restarting a worker that died before it was ready
MAX_BACKOFF = 5.0
AFTER_READY_DELAY = 0.05  # a worker that served and died is replaced at once
_GIVE_UP_CODES = {EXIT_START_FAILED: "its configuration is invalid", 3: "its model did not load"}
_TICK = 0.1


def backoff(failures: int) -> float:
    """Seconds to wait before the next start of a worker that died ``failures`` times in a row at start."""
    if failures <= 0:
        return AFTER_READY_DELAY
    return min(MAX_BACKOFF, FIRST_BACKOFF * float(2 ** (failures - 1)))


@dataclass(eq=False)
class _Watch:
    pool: RunnerPool
    child: Child
    failures: int = 0  # deaths in a row before being ready
    restart_at: float | None = None
    restarts: int = 0

    @property
    def first(self) -> Child:
        return self.pool.children[0]

    def may_start(self) -> bool:
        """The first worker of a runner starts at once; the others once it is ready (or has died).

        Readiness needs one worker: loading the others beside it on the same cores would only
        delay it. They load while the first one serves.
        """
        return self.child is self.first or self.first.ready or self.first.exited() is not None


class GaveUp(Exception):
    """A child that keeps dying at start, or an API server that exited: ``serve`` stops, exit 1."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Supervisor:
    """Runs ``pools``' workers and the ``api`` child until told to stop or a child cannot be kept up."""

    def __init__(
        self,
        pools: Sequence[RunnerPool],
        api: Child | None = None,
        *,
        api_grace: float = 35.0,
        max_start_failures: int = MAX_START_FAILURES,
    ) -> None:
        self.pools = list(pools)
        self.api = api
        self.api_grace = api_grace
        self.max_start_failures = max_start_failures
        self.stopping = threading.Event()
        self._watches = [_Watch(pool, child) for pool in self.pools for child in pool.children]

    def request_stop(self, signum: int, frame: object) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> int:
        """Start what is not running yet, keep it running; the exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)
        for watch in self._watches:
            if watch.may_start():
                watch.child.start()
        if self.api is not None:
            self.api.start()
        code = 0
        try:
            while not self.stopping.is_set():
                self._tick(time.monotonic())
                self.stopping.wait(_TICK)
        except GaveUp as exc:
            logger.error("%s", exc)
            code = exc.code
        finally:
            self._stop_all()
        return code

    def _tick(self, now: float) -> None:
        for watch in self._watches:
            self._watch(watch, now)
        if self.api is not None and self.api.exited() is not None:
            code = self.api.exited()
            exit_code = EXIT_START_FAILED if code == EXIT_START_FAILED else 1  # 2: it refused to start, and said why
            raise GaveUp(f"{self.api.role} {describe_exit(code)}; stopped the rest", exit_code)

    def _watch(self, watch: _Watch, now: float) -> None:
        child = watch.child
        if child.process is None:
            if watch.may_start():
                child.start()
            return
        if watch.restart_at is not None:
            if now >= watch.restart_at:
                watch.restart_at = None
                child.start({RESTARTED_ENV: "1"})
            return
        code = child.exited()
        if code is None:
            if not child.ready and child.check_ready():
                watch.failures = 0
                if watch.restarts:
                    logger.info("%s is back (restart %d)", child.role, watch.restarts)
            return
        watch.pool.worker_exited(child)
        if child.ready:
            watch.failures = 0
        else:
            watch.failures += 1
        if not child.ready and (code in _GIVE_UP_CODES or watch.failures >= self.max_start_failures):
            why = _GIVE_UP_CODES.get(code, f"it died {watch.failures} times in a row before it was ready")
            raise GaveUp(f"{child.role} keeps failing at start ({why}); giving up. Last: {child.last_error()}")
        delay = backoff(watch.failures)
        watch.restarts += 1
        watch.restart_at = now + delay
        logger.warning("%s %s; starting it again in %.2fs", child.role, describe_exit(code), delay)

    def _stop_all(self) -> None:
        if self.api is not None:
            self.api.stop(grace=self.api_grace)
        runners = [w.child for w in self._watches]
        for child in runners:
            child.signal(signal.SIGTERM)
        for child in runners:
            child.wait(grace=10)
        for pool in self.pools:
            pool.close()


# -- tiffin serve -------------------------------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


def _common(config: TiffinConfig) -> list[str]:
    common: list[str] = []
    if config.service:
        common.append(config.service)
    if config.path is not None:
        common += ["--config", str(config.path)]
    return common


def _runner_command(config: TiffinConfig, name: str, spec: RunnerSpec | None) -> list[str]:
    """``tiffin runner NAME``, with its whole spec on the command line when it has one.

    A worker with a spec needs neither the config file nor tiffin's configuration layer
    (pydantic and the rest of ``app``): some 0.15 s less before the model starts loading, on the
    start's critical path. Without one (a runner whose spec does not travel as JSON) the worker
    imports the service to find it.
    """
    options = ["--graceful-timeout", str(config.server.graceful_timeout), "--log-level", config.logging.level]
    if spec is None:
        return runner_cli(name, *_common(config), *options)
    return runner_cli(name, "--spec", spec.to_json(), *options)


def sidecars(config: TiffinConfig, service_runners: Sequence[str]) -> dict[str, int]:
    """Runners this command must start, each with its port."""
    wanted = [name for name, rc in config.runners.items() if not rc.url]
    wanted += [n for n in service_runners if n not in config.runners and not os.environ.get(url_variable(n))]
    return {name: config.server.port + 1 + i for i, name in enumerate(wanted)}


def plan(
    config: TiffinConfig,
    service_runners: Sequence[str],
    socket_dir: str | None = None,
    *,
    specs: dict[str, RunnerSpec] | None = None,
) -> tuple[list[RunnerPool], Child]:
    """The runner pools ``serve`` starts and the API server's child, wired to them (nothing bound yet).

    ``specs``: the spec of each runner only the Python service declares (``Runner.spec()``).
    """
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    api_env = {**env, DEPLOYED_ENV: "1"}  # serve runs the service's on_deployment hooks itself
    pools = []
    for name, port in sidecars(config, service_runners).items():
        runner = config.runners.get(name)
        spec = runner.to_spec(name) if runner is not None else (specs or {}).get(name)
        pool = RunnerPool(
            name,
            _runner_command(config, name, spec),
            env,
            host="127.0.0.1",
            port=port,
            workers=spec.workers if spec is not None else 1,
            uds=None if socket_dir is None else os.path.join(socket_dir, f"{name}.sock"),
        )
        pools.append(pool)
        api_env[url_variable(name)] = pool.url
    server = config.server
    api_argv = _cli(
        "api", *_common(config), "--host", server.host, "--port", str(server.port), "--workers", str(server.workers)
    )
    return pools, Child("api", api_argv, api_env)


def _spec_of(runner: object) -> RunnerSpec | None:
    try:
        spec = runner.spec()  # type: ignore[attr-defined]
        spec.to_json()
    except (TypeError, ValueError):  # init params that are not JSON, a class defined in a function
        return None
    return spec if isinstance(spec, RunnerSpec) else None


def serve(config: TiffinConfig) -> int:
    check_imports(config)  # a bad import path stops the start here, before any child runs
    socket_dir = tempfile.mkdtemp(prefix="tiffin-serve-")
    started: list[RunnerPool] = []
    try:
        # The YAML's runners start at once: loading a model is the slowest part of the start,
        # and it needs nothing from the service being assembled meanwhile.
        early, _ = plan(config, [], socket_dir)
        for pool in early:
            pool.open()[0].start()  # the pool's other workers start once this one is ready
            started.append(pool)
        service_runners: list[str] = []
        specs: dict[str, RunnerSpec] = {}
        if config.service:
            try:
                from app.config.assemble import build_service  # imported only now: the runners need not wait
                from app.sdk.hooks import run_deployment_hooks

                service = build_service(config)  # fails here, once, on a bad config or import
                run_deployment_hooks(service.hooks["on_deployment"])
            except BaseException:
                _stop_pools(started)
                raise
            service_runners = [r.name for r in service.runners]
            specs = {r.name: s for r in service.runners if (s := _spec_of(r)) is not None}
        pools, api = plan(config, service_runners, socket_dir, specs=specs)
        known = {pool.name: pool for pool in started}
        pools = [known.get(pool.name, pool) for pool in pools]
        for pool in pools:
            if pool not in started:
                pool.open()
                started.append(pool)
        supervisor = Supervisor(pools, api, api_grace=float(config.server.graceful_timeout) + 5)
        return supervisor.run()
    finally:
        for pool in started:
            pool.close()
        shutil.rmtree(socket_dir, ignore_errors=True)


def _stop_pools(pools: Sequence[RunnerPool]) -> None:
    children = [child for pool in pools for child in pool.children]
    for child in children:
        child.signal(signal.SIGTERM)
    for child in children:
        child.wait(grace=10)
