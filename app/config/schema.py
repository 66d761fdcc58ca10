"""The YAML configuration: typed models, the loader, and its one-line errors.

``load_config`` builds one ``TiffinConfig`` at the edge; everything else takes that object.
Values come from, highest first: ``overrides`` (the command line), the environment, the YAML
file, the defaults below. The file is ``path`` if given, else ``$TIFFIN_CONFIG``, else
``config/service.yaml`` when it exists, else none (all defaults).

Environment overrides (an empty value counts as unset; values are validated like the file's):

    TIFFIN_HOST              server.host
    TIFFIN_PORT              server.port
    TIFFIN_WORKERS           server.workers
    TIFFIN_TIMEOUT           server.timeout
    TIFFIN_MAX_CONCURRENCY   server.max_concurrency
    TIFFIN_MAX_REQUEST_SIZE  server.max_request_size
    TIFFIN_GRACEFUL_TIMEOUT  server.graceful_timeout
    TIFFIN_ROOT_PATH         server.root_path
    TIFFIN_LOG_LEVEL         logging.level
    TIFFIN_METRICS_ENABLED   metrics.enabled
    TIFFIN_SERVICE           service
    TIFFIN_TRACING_ENABLED   tracing.enabled
    TIFFIN_TRACING_SAMPLE_RATE tracing.sample_rate
    TIFFIN_TRACING_EXPORTER  tracing.exporter
    TIFFIN_TRACING_ENDPOINT  tracing.endpoint
    TIFFIN_RUNNER_<NAME>_URL runners.<name>.url, for each runner in the file; <NAME> is the
                             runner's name upper-cased with every other character than a letter
                             or digit turned into "_" (``runners.spec.url_variable``)

Import paths (``service``, ``runners.*.runnable``, ``middlewares[].class``, ``mounts[].app``)
are ``FILE.py:NAME`` or ``package.module:NAME``. A relative FILE is looked up in the current
directory first, then in the parent of the config file's directory, which is the repository
root for a file in ``config/`` (``TiffinConfig.base_dirs``). ``check_imports`` loads them all.

Every problem is a ``ConfigError`` whose ``str()`` is one line,
``<file>: <dotted.key>: <problem> (got <value>)``, where ``<file>`` is
``environment variable NAME`` or ``command line`` for values that came from there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from app.config.problems import ConfigError, KeyedError, from_validation_error
from app.config.sizes import KiB, MiB, parse_size
from runners.hardware import check_device
from runners.imports import ImportTargetError, import_target, parse_target
from runners.spec import BatchingOptions, InvalidOption, RunnerSpec, check_runner_name, url_variable
from runners.store.tag import Tag
from runners.tracing.options import TracingOptions
from runners.wire.probes import INFRASTRUCTURE_PATHS

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_OVERRIDES",
    "RESERVED_ROUTES",
    "AccessLogConfig",
    "ApiConfig",
    "BatchingConfig",
    "ConfigError",
    "CorsConfig",
    "DataFrameIOConfig",
    "FileIOConfig",
    "ImageIOConfig",
    "IoConfig",
    "JsonIOConfig",
    "LoggingConfig",
    "MetricsConfig",
    "MiddlewareConfig",
    "MountConfig",
    "NdarrayIOConfig",
    "RunnerConfig",
    "SeriesIOConfig",
    "ServerConfig",
    "TextIOConfig",
    "TiffinConfig",
    "TracingConfig",
    "check_imports",
    "load_config",
]

DEFAULT_CONFIG_PATH = Path("config/service.yaml")

ENV_OVERRIDES: dict[str, str] = {
    "TIFFIN_HOST": "server.host",
    "TIFFIN_PORT": "server.port",
    "TIFFIN_WORKERS": "server.workers",
    "TIFFIN_TIMEOUT": "server.timeout",
    "TIFFIN_MAX_CONCURRENCY": "server.max_concurrency",
    "TIFFIN_MAX_REQUEST_SIZE": "server.max_request_size",
    "TIFFIN_GRACEFUL_TIMEOUT": "server.graceful_timeout",
    "TIFFIN_ROOT_PATH": "server.root_path",
    "TIFFIN_LOG_LEVEL": "logging.level",
    "TIFFIN_METRICS_ENABLED": "metrics.enabled",
    "TIFFIN_SERVICE": "service",
    "TIFFIN_TRACING_ENABLED": "tracing.enabled",
    "TIFFIN_TRACING_SAMPLE_RATE": "tracing.sample_rate",
    "TIFFIN_TRACING_EXPORTER": "tracing.exporter",
    "TIFFIN_TRACING_ENDPOINT": "tracing.endpoint",
}

# Paths the server answers itself; an API there would be shadowed or would shadow them.
RESERVED_ROUTES = frozenset({"/", "/docs.json", *INFRASTRUCTURE_PATHS})


# --- field types -------------------------------------------------------------------------


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _import_path(value: str) -> str:
    try:
        parse_target(value)
    except ImportTargetError as exc:
        raise ValueError(exc.reason) from None
    return value


def _identifier(value: str) -> str:
    if not value.isidentifier():
        raise ValueError("should be a Python identifier (letters, digits and '_')")
    return value


def _default_workers(value: Any) -> Any:
    return (os.cpu_count() or 1) if value is None else value


def _log_level(value: Any) -> Any:
    # case-insensitive, but a wrong value is reported as written
    if isinstance(value, str) and value.upper() in get_args(LogLevel):
        return value.upper()
    return value


ImportPath = Annotated[str, AfterValidator(_import_path)]
Size = Annotated[int, BeforeValidator(parse_size)]
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_DTYPE = re.compile(r"bool|u?int(8|16|32|64)|float(16|32|64)|complex(64|128)")  # numpy names, none object
_MIME_TYPE = re.compile(r"[\w.+-]+/([\w.+-]+|\*)")


# --- server ------------------------------------------------------------------------------


class CorsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False
    allow_origins: list[str] = []
    allow_methods: list[str] = []
    allow_headers: list[str] = []
    allow_credentials: bool = False
    max_age: int = Field(600, ge=0)


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = Field("0.0.0.0", min_length=1)  # noqa: S104 - a server in a container listens on all
    port: int = Field(3000, ge=0, le=65535)
    workers: Annotated[int, BeforeValidator(_default_workers)] = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1
    )
    timeout: float = Field(60.0, gt=0)
    stream_idle_timeout: float | None = Field(None, gt=0)  # [timeout] the longest gap between two chunks
    max_concurrency: int | None = Field(None, gt=0)
    max_request_size: Size = Field(20 * MiB, gt=0)  # a larger declared body gets 413 at its head
    # from connecting, or from the end of the previous answer, to a whole request head; past it 408
    header_timeout: float = Field(10.0, gt=0)
    body_timeout: float = Field(30.0, gt=0)  # the longest gap between two reads of a request body; 408
    keepalive_timeout: float = Field(5.0, gt=0)  # an idle keep-alive connection is closed after this
    max_header_size: Size = Field(32 * KiB, ge=1 * KiB)  # bytes of one request head: 431 (a URL alone: 414)
    max_headers: int = Field(100, ge=1)  # header lines of one request: 431
    graceful_timeout: float = Field(30.0, ge=0)
    root_path: str = ""
    cors: CorsConfig = CorsConfig()

    @field_validator("root_path")
    @classmethod
    def _normalise_root_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        return "/" + value.lstrip("/") if value else ""


# --- runners -----------------------------------------------------------------------------


_BATCHING = BatchingOptions()


class BatchingConfig(BaseModel):
    """The YAML face of ``runners.spec.BatchingOptions``: its defaults, its rules (``to_options``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = _BATCHING.enabled
    max_batch_size: int = _BATCHING.max_batch_size
    max_latency_ms: float = _BATCHING.max_latency_ms
    max_queue: int = _BATCHING.max_queue

    @model_validator(mode="after")
    def _check(self) -> BatchingConfig:
        self.to_options()
        return self

    def to_options(self) -> BatchingOptions:
        try:
            return BatchingOptions(**self.model_dump())
        except InvalidOption as exc:
            raise KeyedError((exc.key,), exc.message, exc.value) from None


class RunnerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str | None = None
    runnable: ImportPath | None = None
    init_params: dict[str, Any] = {}
    url: str | None = None
    timeout: float = Field(30.0, gt=0)
    batching: BatchingConfig = BatchingConfig()
    workers: int = Field(1, ge=1)  # sidecar processes `tiffin serve` runs for it, each with its own model copy
    threads: int | None = Field(None, ge=1)  # a model's intra-op threads [the runner's CPU share]
    device: str | None = None  # a model's device: cpu, cuda or cuda:N [cpu]

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str | None) -> str | None:
        if value is not None:
            check_device(value)
        return value

    @field_validator("model")
    @classmethod
    def _check_tag(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Tag.parse(value)
            except ValueError as exc:
                raise ValueError(f"should be a model tag, NAME or NAME:VERSION ({exc})") from None
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https", "http+unix") or not parts.netloc:
            raise ValueError(
                "should be an http:// or https:// URL with a host (or http+unix:// and a percent-encoded socket path)"
            )
        return value.strip().rstrip("/")

    def to_spec(self, name: str) -> RunnerSpec:
        """What the sidecar for this runner serves."""
        batching = self.batching.to_options()
        if self.model is not None:
            return RunnerSpec(
                name,
                model=self.model,
                batching=batching,
                workers=self.workers,
                threads=self.threads,
                device=self.device,
            )
        return RunnerSpec(
            name, runnable=self.runnable, init_params=dict(self.init_params), batching=batching, workers=self.workers
        )

    @model_validator(mode="after")
    def _model_or_runnable(self) -> RunnerConfig:
        if self.model is None and self.runnable is None:
            raise KeyedError((), "needs 'model' (a model tag) or 'runnable' (an import path)")
        if self.model is not None and self.runnable is not None:
            raise KeyedError(("runnable",), "give 'model' or 'runnable', not both")
        for key in ("threads", "device"):
            if self.runnable is not None and getattr(self, key) is not None:
                raise KeyedError((key,), "applies to a stored model ('model'); a runnable takes init_params")
        return self


# --- APIs --------------------------------------------------------------------------------


class NdarrayIOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["ndarray"] = "ndarray"
    dtype: str | None = None
    shape: list[int] | None = None
    enforce_dtype: bool = False
    enforce_shape: bool = False

    @field_validator("dtype")
    @classmethod
    def _check_dtype(cls, value: str | None) -> str | None:
        if value is None or _PLAIN_DTYPE.fullmatch(value):
            return value
        import numpy  # only configs that name an unusual dtype pay for the import (0.1 s of the start)

        try:
            kind = numpy.dtype(value).kind
        except (TypeError, ValueError):
            raise ValueError("not a numpy dtype") from None
        if kind in "OV":
            raise ValueError("object and structured dtypes are not allowed")
        return value

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(n < -1 for n in value):
            raise ValueError("each dimension is a size, or -1 for any size")
        return value

    @model_validator(mode="after")
    def _enforce_needs_value(self) -> NdarrayIOConfig:
        if self.enforce_dtype and self.dtype is None:
            raise KeyedError(("enforce_dtype",), "needs 'dtype'", True)
        if self.enforce_shape and self.shape is None:
            raise KeyedError(("enforce_shape",), "needs 'shape'", True)
        return self


class JsonIOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["json"] = "json"


class TextIOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["text"] = "text"


def _check_pandas_dtype(value: str) -> str:
    import pandas  # only configs that name a DataFrame or Series dtype pay for the import

    try:
        dtype = pandas.api.types.pandas_dtype(value)
    except TypeError:
        raise ValueError("not a numpy or pandas dtype") from None
    if getattr(dtype, "kind", "") == "V":
        raise ValueError("structured dtypes are not allowed")
    return value


def _check_shape_dims(value: list[int] | None) -> list[int] | None:
    if value is not None and any(n < -1 for n in value):
        raise ValueError("each dimension is a size, or -1 for any size")
    return value


class DataFrameIOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["dataframe"] = "dataframe"
    orient: Literal["records", "columns", "index", "split", "values", "table"] = "records"
    columns: list[str] | None = None
    apply_column_names: bool = False
    dtype: str | dict[str, str] | None = None
    enforce_dtype: bool = False
    shape: list[int] | None = None
    enforce_shape: bool = False
    default_format: Literal["json", "parquet", "csv"] = "json"

    @field_validator("dtype")
    @classmethod
    def _check_dtype(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        if isinstance(value, str):
            return _check_pandas_dtype(value)
        for column, name in (value or {}).items():
            try:
                _check_pandas_dtype(name)
            except ValueError as exc:
                raise KeyedError((column,), str(exc), name) from None
        return value

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, value: list[int] | None) -> list[int] | None:
        return _check_shape_dims(value)

    @model_validator(mode="after")
    def _options_need_values(self) -> DataFrameIOConfig:
        if self.apply_column_names and not self.columns:
            raise KeyedError(("apply_column_names",), "needs 'columns'", True)
        if self.enforce_dtype and self.dtype is None:
            raise KeyedError(("enforce_dtype",), "needs 'dtype'", True)
        if self.enforce_shape and self.shape is None:
            raise KeyedError(("enforce_shape",), "needs 'shape'", True)
        return self


class SeriesIOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["series"] = "series"
    orient: Literal["records", "index", "split", "table"] = "records"
    dtype: str | None = None
    enforce_dtype: bool = False
    shape: list[int] | None = None
    enforce_shape: bool = False

    @field_validator("dtype")
    @classmethod
    def _check_dtype(cls, value: str | None) -> str | None:
        return None if value is None else _check_pandas_dtype(value)

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, value: list[int] | None) -> list[int] | None:
        return _check_shape_dims(value)

    @model_validator(mode="after")
    def _options_need_values(self) -> SeriesIOConfig:
        if self.enforce_dtype and self.dtype is None:
            raise KeyedError(("enforce_dtype",), "needs 'dtype'", True)
        if self.enforce_shape and self.shape is None:
            raise KeyedError(("enforce_shape",), "needs 'shape'", True)
        return self


class ImageIOConfig(BaseModel):
    """An image; a runner gets it as an array (H, W[, C]) and may answer one."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["image"] = "image"
    pilmode: str | None = None
    mime_type: str = "image/jpeg"
    allowed_mime_types: list[str] | None = None
    max_pixels: int = Field(50_000_000, gt=0)

    @field_validator("mime_type")
    @classmethod
    def _check_mime_type(cls, value: str) -> str:
        if not _MIME_TYPE.fullmatch(value):
            raise ValueError("should be a media type such as 'image/png'")
        return value

    @field_validator("allowed_mime_types")
    @classmethod
    def _check_allowed(cls, value: list[str] | None) -> list[str] | None:
        for index, mime in enumerate(value or []):
            if not _MIME_TYPE.fullmatch(mime):
                raise KeyedError((index,), "should be a media type such as 'image/png'", mime)
        return value


class FileIOConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["file"] = "file"
    mime_type: str | None = None

    @field_validator("mime_type")
    @classmethod
    def _check_mime_type(cls, value: str | None) -> str | None:
        if value is not None and not _MIME_TYPE.fullmatch(value):
            raise ValueError("should be a media type such as 'image/png' or 'image/*'")
        return value


IoConfig = Annotated[
    Union[
        NdarrayIOConfig, JsonIOConfig, TextIOConfig, DataFrameIOConfig, FileIOConfig, ImageIOConfig, SeriesIOConfig
    ],
    Field(discriminator="type"),
]


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: Annotated[str, AfterValidator(_identifier)]
    route: str  # defaults to "/<name>"
    runner: str  # RUNNER.METHOD
    input: IoConfig
    output: IoConfig

    @model_validator(mode="before")
    @classmethod
    def _default_route(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("route") is None:
            if isinstance(data.get("name"), str):
                data = {**data, "route": data["name"]}
        return data

    @field_validator("route")
    @classmethod
    def _leading_slash(cls, value: str) -> str:
        return "/" + value.strip().lstrip("/")

    @field_validator("runner")
    @classmethod
    def _check_runner(cls, value: str) -> str:
        name, _, method = value.rpartition(".")
        try:
            check_runner_name(name)
        except ValueError:
            raise ValueError("should be RUNNER.METHOD, e.g. 'iris_clf.predict'") from None
        if not method.isidentifier():
            raise ValueError("should be RUNNER.METHOD, e.g. 'iris_clf.predict'")
        return value

    @property
    def runner_name(self) -> str:
        return self.runner.rpartition(".")[0]

    @property
    def method(self) -> str:
        return self.runner.rpartition(".")[2]


# --- middlewares, mounts, metrics, logging -----------------------------------------------


class MiddlewareConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    cls: ImportPath = Field(alias="class")
    options: dict[str, Any] = {}


class MountConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    path: str
    app: ImportPath
    kind: Literal["asgi", "wsgi", "auto"] = "auto"
    name: str | None = None

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("should start with '/'")
        return value.rstrip("/") or "/"


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True
    namespace: str = "tiffin"
    duration_buckets: list[float] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if not _METRIC_NAME.fullmatch(value):
            raise ValueError("should be letters, digits and '_', not starting with a digit")
        return value

    @field_validator("duration_buckets")
    @classmethod
    def _check_buckets(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("needs at least one bucket")
        for index, bound in enumerate(value):
            if not bound > 0:
                raise KeyedError((index,), "should be greater than 0", bound)
            if index and bound <= value[index - 1]:
                raise KeyedError((index,), "buckets should be in increasing order", bound)
        return value


class AccessLogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True
    skip_paths: list[str] = list(INFRASTRUCTURE_PATHS)


class LoggingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    level: Annotated[LogLevel, BeforeValidator(_log_level)] = "INFO"
    access: AccessLogConfig = AccessLogConfig()


class TracingConfig(BaseModel):
    """The YAML face of ``runners.tracing.TracingOptions``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False
    sample_rate: float = Field(1.0, ge=0, le=1)
    exporter: Literal["otlp", "console"] = "otlp"
    endpoint: str | None = None  # OTLP/HTTP: http://collector:4318 (/v1/traces is added) or the full URL
    protocol: Literal["http/protobuf"] = "http/protobuf"

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("should be an http:// or https:// URL, e.g. http://collector:4318")
        return value.strip()

    @model_validator(mode="after")
    def _sdk_installed(self) -> TracingConfig:
        if self.enabled:
            import importlib.util

            wanted = ["opentelemetry.sdk"]
            if self.exporter == "otlp":
                wanted.append("opentelemetry.exporter.otlp.proto.http")
            for module in wanted:
                try:
                    found = importlib.util.find_spec(module) is not None
                except ModuleNotFoundError:
                    found = False
                if not found:
                    problem = f"needs {module}: install tiffin's tracing extra (pip install 'tiffin[tracing]')"
                    raise KeyedError(("enabled",), problem, True)
        return self

    def to_options(self) -> TracingOptions:
        return TracingOptions(
            enabled=self.enabled,
            sample_rate=self.sample_rate,
            exporter=self.exporter,
            endpoint=self.endpoint,
            protocol=self.protocol,
        )


# --- the whole file ----------------------------------------------------------------------


class TiffinConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    service: ImportPath | None = None
    name: str | None = None
    server: ServerConfig = ServerConfig()
    runners: dict[str, RunnerConfig] = {}
    apis: list[ApiConfig] = []
    middlewares: list[MiddlewareConfig] = []
    mounts: list[MountConfig] = []
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()
    tracing: TracingConfig = TracingConfig()

    _path: Path | None = PrivateAttr(None)
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("runners")
    @classmethod
    def _check_runner_names(cls, value: dict[str, RunnerConfig]) -> dict[str, RunnerConfig]:
        by_env: dict[str, str] = {}
        for name in value:
            try:
                check_runner_name(name)
            except ValueError as exc:
                raise KeyedError((name,), str(exc).partition(": ")[2]) from None
            other = by_env.setdefault(url_variable(name), name)
            if other != name:
                raise KeyedError((name,), f"shares {url_variable(name)} with runner {other!r}; rename one")
        return value

    @model_validator(mode="after")
    def _check_cross_references(self) -> TiffinConfig:
        names: dict[str, int] = {}
        routes: dict[str, int] = {}
        for index, api in enumerate(self.apis):
            if api.name in names:
                where = f"name already used by apis.{names[api.name]}"
                raise KeyedError(("apis", index, "name"), where, api.name)
            if api.route in routes:
                where = f"route already used by apis.{routes[api.route]}"
                raise KeyedError(("apis", index, "route"), where, api.route)
            if api.route in RESERVED_ROUTES:
                raise KeyedError(
                    ("apis", index, "route"), "the server answers this path itself", api.route
                )
            if api.runner_name not in self.runners:
                known = ", ".join(self.runners) or "none configured"
                problem = f"no runner named {api.runner_name!r} (runners: {known})"
                raise KeyedError(("apis", index, "runner"), problem)
            names[api.name] = routes[api.route] = index
        paths: dict[str, int] = {}
        for index, mount in enumerate(self.mounts):
            if mount.path in paths:
                where = f"path already used by mounts.{paths[mount.path]}"
                raise KeyedError(("mounts", index, "path"), where, mount.path)
            paths[mount.path] = index
        return self

    @property
    def path(self) -> Path | None:
        """The config file this came from, absolute; None when built from defaults alone."""
        return self._path

    @property
    def base_dirs(self) -> tuple[Path, ...]:
        """Where relative FILE.py import paths are looked up, in order."""
        dirs = [Path.cwd()]
        if self._path is not None and self._path.parent.parent not in dirs:
            dirs.append(self._path.parent.parent)
        return tuple(dirs)

    def source_of(self, key: str) -> str:
        """Where the value at dotted ``key`` came from, for messages: a file or a variable."""
        return _source(self._sources, key)


# --- loading -----------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] = os.environ,
    *,
    overrides: Mapping[str, Any] | None = None,
    default_file: bool = True,
) -> TiffinConfig:
    """Read, merge and validate the configuration; raise ``ConfigError`` on any problem.

    ``overrides`` maps dotted keys (``"server.port"``) to values given on the command line.
    ``default_file=False`` skips ``config/service.yaml`` when neither ``path`` nor
    ``$TIFFIN_CONFIG`` names a file (a Python service given on the command line stands alone).
    """
    file = _choose_file(path, env, default_file)
    display = str(file) if file is not None else "<defaults>"
    data = _read_yaml(file) if file is not None else {}
    sources: dict[str, str] = {}
    for var, key in ENV_OVERRIDES.items():
        if env.get(var):
            _set(data, tuple(key.split(".")), env[var], sources, f"environment variable {var}")
    runners = data.get("runners")
    for name in runners if isinstance(runners, dict) else ():
        var = url_variable(str(name))
        if env.get(var):
            _set(data, ("runners", name, "url"), env[var], sources, f"environment variable {var}")
    for key, value in (overrides or {}).items():
        _set(data, tuple(key.split(".")), value, sources, "command line")
    sources[""] = display
    try:
        config = TiffinConfig.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, TiffinConfig, lambda key: _source(sources, key)) from None
    config._path = file.resolve() if file is not None else None
    config._sources = sources
    return config


def check_imports(config: TiffinConfig, base_dir: str | os.PathLike[str] | None = None) -> None:
    """Import every import path in ``config``; raise ``ConfigError`` naming the first bad key.

    Relative files are looked up in the current directory, then in ``base_dir`` (default: the
    parent of the config file's directory). Model tags are not checked here.
    """
    dirs = config.base_dirs if base_dir is None else (Path.cwd(), Path(base_dir))
    problems: list[ConfigError] = []
    for key, spec, check in _import_paths(config):
        try:
            obj = import_target(spec, base_dirs=dirs)
        except ImportTargetError as exc:
            problems.append(ConfigError(config.source_of(key), key, str(exc)))
            continue
        problem = check(obj)
        if problem:
            problems.append(ConfigError(config.source_of(key), key, f"{spec!r} {problem}"))
    if problems:
        first = problems[0]
        raise ConfigError(first.source, first.key, first.problem, errors=problems)


def _import_paths(config: TiffinConfig) -> Iterator[tuple[str, str, Callable[[Any], str | None]]]:
    def anything(obj: Any) -> str | None:
        return None

    def a_class(obj: Any) -> str | None:
        return None if isinstance(obj, type) else f"names a {type(obj).__name__}, not a class"

    def a_middleware(obj: Any) -> str | None:
        return None if callable(obj) else f"names a {type(obj).__name__}, not a middleware class"

    def an_app(obj: Any) -> str | None:
        return None if callable(obj) else f"names a {type(obj).__name__}, not an ASGI or WSGI app"

    if config.service is not None:
        yield "service", config.service, anything
    for name, runner in config.runners.items():
        if runner.runnable is not None:
            yield f"runners.{name}.runnable", runner.runnable, a_class
    for index, middleware in enumerate(config.middlewares):
        yield f"middlewares.{index}.class", middleware.cls, a_middleware
    for index, mount in enumerate(config.mounts):
        yield f"mounts.{index}.app", mount.app, an_app


def _choose_file(
    path: str | os.PathLike[str] | None, env: Mapping[str, str], default_file: bool = True
) -> Path | None:
    if path is None and env.get("TIFFIN_CONFIG"):
        path = env["TIFFIN_CONFIG"]
    if path is None:
        return DEFAULT_CONFIG_PATH if default_file and DEFAULT_CONFIG_PATH.is_file() else None
    file = Path(path)
    if not file.is_file():
        reason = "is a directory, not a config file" if file.is_dir() else "config file not found"
        raise ConfigError(str(file), "", reason)
    return file


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a key given twice in a mapping is an error."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # keys merged in with `<<:` may be overridden
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (str, int, float, bool)) or key is None:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(file), "", "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(str(file), "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
        raise ConfigError(where, "", f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(file), "", f"invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(file), "", "the top level should be a mapping of keys", data)
    return data


def _set(
    data: dict[Any, Any], key: tuple[Any, ...], value: Any, sources: dict[str, str], source: str
) -> None:
    node = data
    for part in key[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return  # the file has a non-mapping here; validation reports that
    node[key[-1]] = value
    sources[".".join(map(str, key))] = source


def _source(sources: Mapping[str, str], key: str) -> str:
    for prefix, source in sources.items():
        if prefix and (key == prefix or key.startswith(prefix + ".")):
            return source
    return sources.get("", "<config>")
