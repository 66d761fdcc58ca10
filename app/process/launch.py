"""What each ``tiffin`` command does, once its configuration is loaded and checked."""

from __future__ import annotations

import os
import sys
from typing import Any

from app.config.schema import ConfigError, TiffinConfig
from app.process.logs import configure_logging

EXIT_START_FAILED = 2  # as for a bad config: the start was refused, restarting will not help

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
    server = ApiServer(service, config, metrics_dir)
    master = os.getpid()
    try:
        server.run()
    except SystemExit:
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
    from app.process.supervisor import serve
    from app.sdk.hooks import HookFailed

    configure_logging(config.logging.level, access=config.logging.access.enabled)
    try:
        return serve(config)
    except HookFailed as exc:
        return start_failed(str(exc))


def run_runner(
    config: TiffinConfig,
    name: str,
    *,
    model: str | None,
    host: str | None,
    port: int | None,
    uds: str | None = None,
) -> int:
    from runners.sidecar.server import serve

    configure_logging(config.logging.level, access=config.logging.access.enabled)
    spec = runner_spec(config, name, model)
    return serve(
        spec,
        host=host or config.server.host,
        port=port if port is not None else 3001,
        uds=uds,
        log_config=None,
        graceful_timeout=float(config.server.graceful_timeout),
    )


def runner_spec(config: TiffinConfig, name: str, model: str | None) -> Any:
    """What the sidecar for runner ``name`` serves: ``--model``, the YAML's runner, or the service's."""
    from runners.spec import RunnerSpec

    runner_config = config.runners.get(name)
    batching = runner_config.batching.model_dump() if runner_config is not None else None
    if model is not None:
        return RunnerSpec.for_model(name, model, batching=batching)
    if runner_config is not None and runner_config.model is not None:
        return RunnerSpec.for_model(name, runner_config.model, batching=batching)
    from app.config.assemble import build_service

    service = build_service(config)
    runner = service.runner(name)
    if runner is None:
        known = ", ".join(r.name for r in service.runners) or "none"
        problem = f"no runner named {name!r} (runners: {known})"
        raise ConfigError(config.source_of("runners"), f"runners.{name}", problem)
    return runner.spec(batching=batching)
