"""What each ``tiffin`` command does, once its configuration is loaded and checked."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING

from app.process.logs import configure_logging

if TYPE_CHECKING:
    from app.config.schema import TiffinConfig
    from runners.spec import RunnerSpec

EXIT_CONFIG = 2


def run_api(config: TiffinConfig) -> int:
    from app.process.gunicorn_app import ApiServer, fresh_metrics_dir

    configure_logging(config.logging.level, access=config.logging.access.enabled)
    metrics_dir = fresh_metrics_dir()  # before the service's imports reach prometheus-client
    from app.server.http_metrics import cache_process_id

    cache_process_id()
    from app.config.assemble import build_service

    service = build_service(config)
    ApiServer(service, config, metrics_dir).run()
    return 0


def run_serve(config: TiffinConfig) -> int:
    from app.process.supervisor import serve

    configure_logging(config.logging.level, access=config.logging.access.enabled)
    return serve(config)


def run_runner(config: TiffinConfig, args: argparse.Namespace) -> int:
    """``tiffin runner NAME`` with its configuration: the sidecar for one runner of the YAML or the service."""
    configure_logging((args.log_level or config.logging.level).upper(), access=config.logging.access.enabled)
    graceful = args.graceful_timeout if args.graceful_timeout is not None else float(config.server.graceful_timeout)
    return _serve_runner(runner_spec(config, args), args, host=args.host or config.server.host, graceful=graceful)


def run_runner_spec(args: argparse.Namespace) -> int:
    """``tiffin runner NAME --spec JSON``: no configuration file, pydantic or service import on the way."""
    from runners.spec import RunnerSpec

    configure_logging((args.log_level or "INFO").upper(), access=False)
    try:
        spec = RunnerSpec.from_json(args.spec)
    except (ValueError, TypeError) as exc:
        print(f"tiffin runner: --spec: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if spec.name != args.name:
        print(f"tiffin runner: --spec names runner {spec.name!r}, not {args.name!r}", file=sys.stderr)
        return EXIT_CONFIG
    graceful = args.graceful_timeout if args.graceful_timeout is not None else 30.0
    return _serve_runner(spec, args, host=args.host or "0.0.0.0", graceful=graceful)  # noqa: S104 - a server's default


def _serve_runner(spec: RunnerSpec, args: argparse.Namespace, *, host: str, graceful: float) -> int:
    """One sidecar process, or (``--workers N``, ``runners.<name>.workers``) a supervisor of N of them."""
    port = args.port if args.port is not None else 3001
    workers = args.workers if args.workers is not None else spec.workers
    if workers < 1:
        print("tiffin runner: --workers must be at least 1", file=sys.stderr)
        return EXIT_CONFIG
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
    try:
        if args.model is not None:
            return RunnerSpec.for_model(name, args.model, batching=batching, workers=workers)
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
