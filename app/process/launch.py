"""What each ``tiffin`` command does, once its configuration is loaded and checked."""

from __future__ import annotations

from typing import Any

from app.config.schema import ConfigError, TiffinConfig
from app.process.logs import configure_logging


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
    threads = runner_config.threads if runner_config is not None else None
    device = runner_config.device if runner_config is not None else None
    if model is not None:
        return RunnerSpec.for_model(name, model, batching=batching, threads=threads, device=device)
    if runner_config is not None and runner_config.model is not None:
        return RunnerSpec.for_model(name, runner_config.model, batching=batching, threads=threads, device=device)
    from app.config.assemble import build_service

    service = build_service(config)
    runner = service.runner(name)
    if runner is None:
        known = ", ".join(r.name for r in service.runners) or "none"
        raise ConfigError(config.source_of("runners"), f"runners.{name}", f"no runner named {name!r} (runners: {known})")
    return runner.spec(batching=batching)
