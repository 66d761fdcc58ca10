"""What the ASGI app needs to know, resolved once from the YAML config and the service.

YAML keys the user set win over the service's own ``traffic``; the service's ``traffic`` wins
over the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.sdk.service import Service
from app.server.http_metrics import DEFAULT_BUCKETS
from runners.tracing.options import TracingOptions
from runners.wire.probes import INFRASTRUCTURE_PATHS

DEFAULT_SKIP = INFRASTRUCTURE_PATHS


@dataclass(frozen=True)
class Settings:
    timeout: float = 60.0
    """Seconds to a response's first chunk (an ordinary response is one chunk)."""
    stream_idle_timeout: float | None = None
    """Seconds a streamed response may go without a chunk; ``None``: ``timeout``."""
    max_concurrency: int | None = None
    max_request_size: int = 20 * 1024 * 1024
    root_path: str = ""
    cors: dict[str, Any] | None = None
    metrics_enabled: bool = True
    metrics_namespace: str = "tiffin"
    duration_buckets: tuple[float, ...] = DEFAULT_BUCKETS
    access: dict[str, Any] = field(default_factory=lambda: {"enabled": True, "skip_paths": DEFAULT_SKIP})
    tracing: TracingOptions = field(default_factory=TracingOptions)


def settings_for(service: Service, config: Any = None) -> Settings:
    traffic = service.traffic
    if config is None:
        return Settings(
            timeout=traffic.timeout if traffic.timeout is not None else Settings.timeout,
            max_concurrency=traffic.max_concurrency,
        )
    server = config.server
    chosen = server.model_fields_set

    def pick(key: str, from_service: Any) -> Any:
        if key in chosen or from_service is None:
            return getattr(server, key)
        return from_service

    cors = server.cors
    return Settings(
        timeout=float(pick("timeout", traffic.timeout)),
        stream_idle_timeout=server.stream_idle_timeout,
        max_concurrency=pick("max_concurrency", traffic.max_concurrency),
        max_request_size=int(server.max_request_size),
        root_path=server.root_path,
        cors=(
            {
                "allow_origins": list(cors.allow_origins),
                "allow_methods": list(cors.allow_methods),
                "allow_headers": list(cors.allow_headers),
                "allow_credentials": cors.allow_credentials,
                "max_age": cors.max_age,
            }
            if cors.enabled
            else None
        ),
        metrics_enabled=config.metrics.enabled,
        metrics_namespace=config.metrics.namespace,
        duration_buckets=tuple(config.metrics.duration_buckets),
        access={"enabled": config.logging.access.enabled, "skip_paths": tuple(config.logging.access.skip_paths)},
        tracing=config.tracing.to_options(),
    )
