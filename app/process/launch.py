"""What each ``tiffin`` command does, once its configuration is loaded and checked."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import TYPE_CHECKING

from app.process.logs import configure_logging

if TYPE_CHECKING:
    from app.config.schema import TiffinConfig
    from runners.spec import RunnerSpec
    from runners.tracing.options import TracingOptions

EXIT_START_FAILED = 2  # a bad config, a failed hook: the start was refused, restarting will not help

DEPLOYED_ENV = "TIFFIN_DEPLOYED"
"""Set by ``tiffin serve`` for the API server it starts: the on_deployment hooks already ran."""


def run_api(config: TiffinConfig) -> int:
    from app.process.gunicorn_app import ApiServer, fresh_metrics_dir

    configure_logging(config.logging.level, access=config.logging.access.enabled)
    metrics_dir = fresh_metrics_dir()  # before the service's imports reach prometheus-client
    from app.server.http_metrics import cache_process_id

    cache_process_id()
    from app.config.assemble import build_service
    from app.sdk.hooks import HookFailed, run_deployment_hooks

    service = build_service(config)
    try:
        if not os.environ.get(DEPLOYED_ENV):
            run_deployment_hooks(service.hooks["on_deployment"])
    except HookFailed as exc:
        return start_failed(str(exc))
    from gunicorn.errors import HaltServer

    server = ApiServer(service, config, metrics_dir)
    master = os.getpid()
    try:
        server.run()
    except (SystemExit, HaltServer):
        # HaltServer: when two workers fail to boot, gunicorn's halt meets the second while it
        # stops the first and lets it escape instead of exiting.
        if os.getpid() != master:
            raise  # a forked worker leaving with its own exit code, which the master reads
        failure = server.start_failure()
        if failure is not None:
            return start_failed(failure)
        raise
    server.start_failure()  # nothing failed: only removes the file
    return 0


def start_failed(line: str) -> int:
    print(f"tiffin: {line}", file=sys.stderr, flush=True)
    return EXIT_START_FAILED


def run_serve(config: TiffinConfig) -> int:
    import os

    from app.process.supervisor import serve
    from app.sdk.hooks import HookFailed

    configure_logging(config.logging.level, access=config.logging.access.enabled)
    # The sidecars started with --spec read no config file: tracing reaches them in the environment.
    os.environ.update(config.tracing.to_options().to_env())
    try:
        return serve(config)
    except HookFailed as exc:
        return start_failed(str(exc))


def run_runner(config: TiffinConfig, args: argparse.Namespace) -> int:
    """``tiffin runner NAME`` with its configuration: the sidecar for one runner of the YAML or the service."""
    configure_logging((args.log_level or config.logging.level).upper(), access=config.logging.access.enabled)
    graceful = args.graceful_timeout if args.graceful_timeout is not None else float(config.server.graceful_timeout)
    spec = runner_spec(config, args)
    return _serve_runner(
        spec, args, host=args.host or config.server.host, graceful=graceful, tracing=config.tracing.to_options()
    )


def run_runner_spec(args: argparse.Namespace) -> int:
    """``tiffin runner NAME --spec JSON``: no configuration file, pydantic or service import on the way."""
    from runners.spec import RunnerSpec

    configure_logging((args.log_level or "INFO").upper(), access=False)
    try:
        spec = RunnerSpec.from_json(args.spec)
    except (ValueError, TypeError) as exc:
        print(f"tiffin runner: --spec: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    if spec.name != args.name:
        print(f"tiffin runner: --spec names runner {spec.name!r}, not {args.name!r}", file=sys.stderr)
        return EXIT_START_FAILED
    from runners.tracing.options import TracingOptions

    try:
        tracing = TracingOptions.from_env()
    except ValueError as exc:
        print(f"tiffin runner: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    graceful = args.graceful_timeout if args.graceful_timeout is not None else 30.0
    host = args.host or "0.0.0.0"  # noqa: S104 - a server's default
    return _serve_runner(spec, args, host=host, graceful=graceful, tracing=tracing)


def _serve_runner(
    spec: RunnerSpec, args: argparse.Namespace, *, host: str, graceful: float, tracing: TracingOptions
) -> int:
    """One sidecar process, or (``--workers N``, ``runners.<name>.workers``) a supervisor of N of them."""
    port = args.port if args.port is not None else 3001
    workers = args.workers if args.workers is not None else spec.workers
    if workers < 1:
        print("tiffin runner: --workers must be at least 1", file=sys.stderr)
        return EXIT_START_FAILED
    if args.worker or (workers == 1 and args.fd is None):
        import os
        import socket

        from app.process.runner_pool import RESTARTED_ENV
        from runners.sidecar.server import serve

        sock = None if args.fd is None else socket.socket(fileno=args.fd)
        restarted = os.environ.get(RESTARTED_ENV) == "1"
        return serve(
            spec,
            host=host,
            port=port,
            uds=args.uds,
            log_config=None,
            graceful_timeout=graceful,
            sock=sock,
            restarted=restarted,
            listen_after_load=args.worker,
            tracing_options=tracing,
        )
    return _supervise_runner(dataclasses.replace(spec, workers=workers), args, host=host, port=port, graceful=graceful)


def _supervise_runner(spec: RunnerSpec, args: argparse.Namespace, *, host: str, port: int, graceful: float) -> int:
    """``tiffin runner NAME --workers N``: N workers on one shared port, respawned when they die."""
    import os
    import shutil
    import tempfile

    from app.process.runner_pool import RunnerPool, runner_cli
    from app.process.supervisor import Supervisor

    private = None if args.uds else tempfile.mkdtemp(prefix=f"tiffin-runner-{spec.name}-")
    try:
        options = ["--graceful-timeout", str(graceful), "--log-level", args.log_level or "INFO"]
        command = runner_cli(spec.name, "--spec", spec.to_json(), *options)
        env = dict(os.environ)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        uds = args.uds or os.path.join(str(private), f"{spec.name}.sock")
        pool = RunnerPool(spec.name, command, env, host=host, port=port, workers=spec.workers, uds=uds)
        try:
            pool.open()
        except OSError as exc:
            print(f"tiffin runner: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return Supervisor([pool]).run()
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


def runner_spec(config: TiffinConfig, args: argparse.Namespace) -> RunnerSpec:
    """What runner ``args.name``'s sidecar serves: the command line's model, the YAML's runner, or the service's."""
    from app.config.problems import ConfigError  # not at the top: a worker started with --spec needs no pydantic
    from runners.spec import RunnerSpec

    name = args.name
    runner_config = config.runners.get(name)
    batching = runner_config.batching.model_dump() if runner_config is not None else None
    workers = runner_config.workers if runner_config is not None else 1
    threads = runner_config.threads if runner_config is not None else None
    device = runner_config.device if runner_config is not None else None
    try:
        if args.model is not None:
            return RunnerSpec.for_model(
                name, args.model, batching=batching, workers=workers, threads=threads, device=device
            )
        if args.runnable is not None:
            init_params = json.loads(args.init_params) if args.init_params else {}
            return RunnerSpec.for_runnable(
                name, args.runnable, init_params=init_params, batching=batching, workers=workers
            )
    except ValueError as exc:
        raise ConfigError("command line", f"runner {name}", str(exc)) from None
    if runner_config is not None:
        return runner_config.to_spec(name)
    from app.config.assemble import build_service

    service = build_service(config)
    runner = service.runner(name)
    if runner is None:
        known = ", ".join(r.name for r in service.runners) or "none"
        problem = f"no runner named {name!r} (runners: {known})"
        raise ConfigError(config.source_of("runners"), f"runners.{name}", problem)
    return runner.spec(batching=batching)
