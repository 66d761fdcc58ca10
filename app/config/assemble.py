"""Build the service a YAML config describes: a Python service, plus what the YAML adds.

The YAML may name a Python service (``service:``) and then adds to it and configures it:
runner URLs and timeouts, further runners, no-code APIs that call a runner method,
middlewares and mounts. Without ``service:`` it describes the whole service.

Loading also checks what would otherwise fail only once serving: the models the service
declares are found in the model store, and every runner can be made and called by a sidecar
(``app.sdk.signatures``). The APIs' signatures were checked when they were declared.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import numpy as np

from app.config.schema import ApiConfig, ConfigError, IoConfig, RunnerConfig, TiffinConfig, check_imports
from app.io import JSON, File, Image, NumpyNdarray, PandasDataFrame, PandasSeries, Text
from app.io.base import IODescriptor
from app.sdk.inference import InferenceAPI
from app.sdk.service import Service
from app.sdk.signatures import SignatureError, check_runner
from runners.imports import import_target


def build_service(config: TiffinConfig) -> Service:
    check_imports(config)
    service = load_service(config)
    for name, runner_config in config.runners.items():
        runner = service.runner(name)
        if runner is None:
            runner = make_runner(name, runner_config, config)
            service.add_runner(runner)
        # the sidecar started for this runner batches as the YAML says; calls are coalesced to match
        runner.configure(
            url=runner_config.url, timeout=runner_config.timeout, batching=runner_config.batching.model_dump()
        )
    for index, api in enumerate(config.apis):
        try:
            service.add_api(runner_api(service, api))
        except ValueError as exc:
            raise ConfigError(config.source_of(f"apis.{index}"), f"apis.{index}", str(exc)) from None
    for entry in config.middlewares:
        service.add_asgi_middleware(import_target(entry.cls, base_dirs=config.base_dirs), **entry.options)
    for mount in config.mounts:
        target = import_target(mount.app, base_dirs=config.base_dirs)
        kind = detect_kind(target) if mount.kind == "auto" else mount.kind
        if kind == "wsgi":
            service.mount_wsgi_app(target, path=mount.path, name=mount.name)
        else:
            service.mount_asgi_app(target, path=mount.path, name=mount.name)
    check_loaded(service, config)
    return service


def check_loaded(service: Service, config: TiffinConfig) -> None:
    """The declared models are in the store, and a sidecar can make and call every runner."""
    try:
        service.resolve_models()
    except LookupError as exc:
        raise ConfigError(config.source_of("service"), "service", str(exc)) from None
    for runner in service.runners:
        key = f"runners.{runner.name}" if runner.name in config.runners else "service"
        try:
            check_runner(runner)
        except SignatureError as exc:
            raise ConfigError(config.source_of(key), key, str(exc)) from None


def load_service(config: TiffinConfig) -> Service:
    if config.service is None:
        return Service(config.name or "tiffin")
    target = import_target(config.service, base_dirs=config.base_dirs)
    if isinstance(target, type):
        from app.sdk.class_style import ClassService

        target = ClassService(target)
    if not isinstance(target, Service):
        raise ConfigError(
            config.source_of("service"),
            "service",
            f"{config.service!r} names a {type(target).__name__}, not a Service or an @service class",
        )
    return target


def make_runner(name: str, runner_config: RunnerConfig, config: TiffinConfig) -> Any:
    import runners

    if runner_config.runnable is not None:
        runnable = import_target(runner_config.runnable, base_dirs=config.base_dirs)
        return runners.Runner(runnable, name=name, runnable_init_params=dict(runner_config.init_params))
    if runner_config.model is None:  # the schema requires one of the two
        raise ConfigError(config.source_of(f"runners.{name}"), f"runners.{name}", "needs a model or a runnable")
    try:
        return runners.models.get(str(runner_config.model)).to_runner(name=name)
    except Exception as exc:
        raise ConfigError(config.source_of(f"runners.{name}.model"), f"runners.{name}.model", str(exc)) from None


def runner_api(service: Service, api: ApiConfig) -> InferenceAPI:
    runner_name, method_name = api.runner.rsplit(".", 1)
    runner = service.runner(runner_name)
    if runner is None:  # the config checked the reference; reported as the API's problem otherwise
        raise ValueError(f"no runner named {runner_name!r}")
    method = getattr(runner, method_name)
    # A runner gets arrays, DataFrames or JSON over the wire; an image travels as its pixels.
    as_array = api.input.type == "image"

    async def call(value: Any) -> Any:
        return await method.async_run(np.asarray(value) if as_array else value)

    call.__name__ = api.name
    call.__doc__ = f"Calls runner {runner_name!r}, method {method_name!r}."
    return InferenceAPI(
        name=api.name, func=call, input=descriptor(api.input), output=descriptor(api.output), route=api.route
    )


def descriptor(io: IoConfig) -> IODescriptor:
    if io.type == "ndarray":
        shape = tuple(io.shape) if io.shape is not None else None
        return NumpyNdarray(
            dtype=io.dtype, shape=shape, enforce_dtype=io.enforce_dtype, enforce_shape=io.enforce_shape
        )
    if io.type == "json":
        return JSON()
    if io.type == "text":
        return Text()
    if io.type == "dataframe":
        return PandasDataFrame(
            orient=io.orient,
            columns=io.columns,
            apply_column_names=io.apply_column_names,
            dtype=io.dtype,
            enforce_dtype=io.enforce_dtype,
            shape=io.shape,
            enforce_shape=io.enforce_shape,
            default_format=io.default_format,
        )
    if io.type == "series":
        return PandasSeries(
            orient=io.orient,
            dtype=io.dtype,
            enforce_dtype=io.enforce_dtype,
            shape=io.shape,
            enforce_shape=io.enforce_shape,
        )
    if io.type == "image":
        return Image(
            pilmode=io.pilmode,
            mime_type=io.mime_type,
            allowed_mime_types=io.allowed_mime_types,
            max_pixels=io.max_pixels,
        )
    return File(mime_type=io.mime_type)


def detect_kind(app: Any) -> Literal["asgi", "wsgi"]:
    """ASGI apps are coroutine callables of (scope, receive, send); WSGI ones take (environ, start_response)."""
    call: Any
    if inspect.isfunction(app) or inspect.ismethod(app):
        call = app
    else:  # the class's own method: an instance's attribute could be anything
        call = getattr(type(app), "__call__", None)  # noqa: B004
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app):
        return "asgi"
    try:
        params = [p for p in inspect.signature(app).parameters.values() if p.kind is not p.VAR_KEYWORD]
    except (TypeError, ValueError):
        return "asgi"
    return "wsgi" if len(params) == 2 else "asgi"
