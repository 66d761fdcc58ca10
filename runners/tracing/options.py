"""``TracingOptions``: whether and where a process exports its spans (the YAML's ``tracing:``).

Plain data, shared by the API server and the sidecars. ``tiffin serve`` hands it to the processes
it starts as ``TIFFIN_TRACING_*`` variables (``to_env``/``from_env``), which users may also set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

Exporter = Literal["otlp", "console"]
Protocol = Literal["http/protobuf"]
EXPORTERS: tuple[Exporter, ...] = ("otlp", "console")
PROTOCOLS: tuple[Protocol, ...] = ("http/protobuf",)

ENV = {
    "TIFFIN_TRACING_ENABLED": "enabled",
    "TIFFIN_TRACING_SAMPLE_RATE": "sample_rate",
    "TIFFIN_TRACING_EXPORTER": "exporter",
    "TIFFIN_TRACING_ENDPOINT": "endpoint",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class TracingOptions:
    enabled: bool = False
    sample_rate: float = 1.0
    """The share of traces started here that are recorded; a caller's ``traceparent`` decides for its own."""
    exporter: Exporter = "otlp"
    endpoint: str | None = None
    """OTLP/HTTP: a collector's base URL (``/v1/traces`` is added) or its full traces URL."""
    protocol: Protocol = "http/protobuf"

    def __post_init__(self) -> None:
        if not 0.0 <= self.sample_rate <= 1.0:
            raise ValueError(f"tracing sample_rate must be between 0 and 1, not {self.sample_rate!r}")
        if self.exporter not in EXPORTERS:
            raise ValueError(f"tracing exporter must be one of {', '.join(EXPORTERS)}, not {self.exporter!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"tracing protocol must be {' or '.join(PROTOCOLS)}, not {self.protocol!r}")

    @property
    def traces_url(self) -> str | None:
        """Where OTLP/HTTP spans go; ``None``: the exporter's own default (or ``OTEL_EXPORTER_OTLP_*``)."""
        if not self.endpoint:
            return None
        base = self.endpoint.rstrip("/")
        rest = base.partition("://")[2]
        return base if "/" in rest else base + "/v1/traces"

    def to_env(self) -> dict[str, str]:
        env = {
            "TIFFIN_TRACING_ENABLED": "true" if self.enabled else "false",
            "TIFFIN_TRACING_SAMPLE_RATE": repr(self.sample_rate),
            "TIFFIN_TRACING_EXPORTER": self.exporter,
        }
        if self.endpoint:
            env["TIFFIN_TRACING_ENDPOINT"] = self.endpoint
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TracingOptions:
        """From the ``TIFFIN_TRACING_*`` variables (an empty one counts as unset); ValueError when one is wrong."""
        raw = {key: env[var] for var, key in ENV.items() if env.get(var)}
        enabled = raw.get("enabled", "false").strip().lower()
        if enabled not in _TRUE + _FALSE:
            raise ValueError(f"TIFFIN_TRACING_ENABLED must be true or false, not {raw['enabled']!r}")
        try:
            rate = float(raw.get("sample_rate", "1"))
        except ValueError:
            raise ValueError(f"TIFFIN_TRACING_SAMPLE_RATE must be a number, not {raw['sample_rate']!r}") from None
        return cls(
            enabled=enabled in _TRUE,
            sample_rate=rate,
            exporter=cast(Exporter, raw.get("exporter", "otlp")),
            endpoint=raw.get("endpoint"),
        )
