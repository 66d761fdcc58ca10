import os
import sys
from pathlib import Path

import pytest

import app.config.schema
from app.config.schema import (
    ENV_OVERRIDES,
    ConfigError,
    MiddlewareConfig,
    TiffinConfig,
    check_imports,
    load_config,
)

REPO = Path(__file__).resolve().parents[3]

RUNNER_AND_API = """
runners:
  iris_clf: {model: "iris_clf:latest"}
apis:
  - name: classify
    runner: iris_clf.predict
    input: {type: ndarray}
    output: {type: ndarray}
"""


def write(directory: Path, text: str, name: str = "config/x.yaml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    return str(caught.value)


@pytest.fixture(autouse=True)
def restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # check_imports appends file directories


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- files -------------------------------------------------------------------------------


def test_default_service_yaml_is_the_iris_classifier() -> None:
    config = load_config(REPO / "config" / "service.yaml", env={})
    assert config.name == "iris_classifier"
    assert config.server.port == 3000 and config.server.workers == 2 and config.server.timeout == 60
    runner = config.runners["iris_clf"]
    assert runner.model == "iris_clf:latest" and runner.runnable is None
    assert runner.batching.enabled and runner.batching.max_batch_size == 512 and runner.workers == 1
    assert runner.batching.max_latency_ms == 10
    (api,) = config.apis
    assert (api.name, api.route, api.runner_name, api.method) == ("classify", "/classify", "iris_clf", "predict")
    assert api.input.type == "ndarray" and api.input.dtype == "float64"
    assert api.input.shape == [-1, 4] and api.input.enforce_shape and not api.input.enforce_dtype
    assert api.output.type == "ndarray"
    assert config.path == REPO / "config" / "service.yaml"
    assert config.base_dirs[-1] == REPO


def test_no_file_gives_every_default(in_tmp: Path) -> None:
    config = load_config(None, env={})
    assert config.path is None
    assert config.service is None and config.name is None
    server = config.server
    assert server.host == "0.0.0.0" and server.port == 3000
    assert server.workers == (os.cpu_count() or 1)
    assert server.timeout == 60 and server.max_concurrency is None
    assert server.max_request_size == 20 * 1024 * 1024
    assert server.graceful_timeout == 30 and server.root_path == ""
    assert (server.header_timeout, server.body_timeout, server.keepalive_timeout) == (10, 30, 5)
    assert server.max_header_size == 32 * 1024 and server.max_headers == 100
    cors = server.cors
    assert (cors.enabled, cors.allow_origins, cors.allow_methods, cors.allow_headers) == (False, [], [], [])
    assert cors.allow_credentials is False and cors.max_age == 600
    assert config.runners == {} and config.apis == [] and config.middlewares == [] and config.mounts == []
    assert config.metrics.enabled and config.metrics.namespace == "tiffin"
    assert config.metrics.duration_buckets == [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    assert config.logging.level == "INFO"
    assert config.logging.access.enabled
    assert config.logging.access.skip_paths == ["/metrics", "/healthz", "/livez", "/readyz"]


def test_runner_and_io_defaults(tmp_path: Path) -> None:
    text = RUNNER_AND_API + "  - {name: other, runner: iris_clf.x, input: {type: dataframe}, output: {type: file}}\n"
    text += "  - {name: images, runner: iris_clf.x, input: {type: file, mime_type: 'image/*'}, output: {type: text}}\n"
    config = load_config(write(tmp_path, text), env={})
    runner = config.runners["iris_clf"]
    assert runner.init_params == {} and runner.url is None and runner.timeout == 30
    batching = runner.batching
    assert (batching.enabled, batching.max_batch_size, batching.max_latency_ms, batching.max_queue) == (True, 64, 10, 1024)
    ndarray = config.apis[0].input
    assert (ndarray.dtype, ndarray.shape, ndarray.enforce_dtype, ndarray.enforce_shape) == (None, None, False, False)
    assert config.apis[1].input.orient == "records"
    assert config.apis[1].output.mime_type is None
    assert config.apis[2].input.mime_type == "image/*" and config.apis[2].output.type == "text"


def test_defaults_are_not_shared_between_instances() -> None:
    first, second = TiffinConfig(), TiffinConfig()
    first.server.cors.allow_origins.append("https://example.com")
    assert second.server.cors.allow_origins == []


def test_default_path_then_tiffin_config(in_tmp: Path) -> None:
    write(in_tmp, "name: from_default", "config/service.yaml")
    write(in_tmp, "name: from_env", "other.yaml")
    assert load_config(None, env={}).name == "from_default"
    assert load_config(None, env={"TIFFIN_CONFIG": "other.yaml"}).name == "from_env"
    assert load_config("other.yaml", env={"TIFFIN_CONFIG": "nope.yaml"}).name == "from_env"


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing yet\n"), env={}).model_dump() == TiffinConfig().model_dump()


def test_missing_explicit_file(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("config/nope.yaml", env={})
    assert str(caught.value) == "config/nope.yaml: config file not found"
    with pytest.raises(ConfigError, match="^gone.yaml: config file not found$"):
        load_config(None, env={"TIFFIN_CONFIG": "gone.yaml"})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert error_for(tmp_path, "- a\n- b\n").endswith(": the top level should be a mapping of keys (got ['a', 'b'])")


# --- YAML syntax -------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_column(in_tmp: Path) -> None:
    write(in_tmp, "server:\n  port: 3000\n   host: x\n")
    with pytest.raises(ConfigError) as caught:
        load_config("config/x.yaml", env={})
    assert str(caught.value) == "config/x.yaml:3:8: invalid YAML: mapping values are not allowed here"


def test_yaml_duplicate_key_is_an_error(in_tmp: Path) -> None:
    write(in_tmp, "server:\n  port: 3000\n  port: 4000\n")
    with pytest.raises(ConfigError, match=r"^config/x.yaml:3:3: invalid YAML: duplicate key 'port'$"):
        load_config("config/x.yaml", env={})


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    text = "server:\n  cors:\n    <<: {enabled: true, max_age: 5}\n    max_age: 7\n"
    cors = load_config(write(tmp_path, text), env={}).server.cors
    assert cors.enabled and cors.max_age == 7


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    message = error_for(tmp_path, "server: !!python/object/apply:os.system ['true']\n")
    assert "invalid YAML: could not determine a constructor" in message


# --- messages ----------------------------------------------------------------------------


def test_unknown_key_at_top_level(in_tmp: Path) -> None:
    write(in_tmp, "servr: {port: 1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config("config/x.yaml", env={})
    assert str(caught.value) == "config/x.yaml: servr: unknown key (did you mean 'server'?)"
    assert (caught.value.source, caught.value.key) == ("config/x.yaml", "servr")


def test_unknown_nested_key(in_tmp: Path) -> None:
    write(in_tmp, "server: {wrokers: 2}\n")
    with pytest.raises(ConfigError) as caught:
        load_config("config/x.yaml", env={})
    assert str(caught.value) == "config/x.yaml: server.wrokers: unknown key (did you mean 'workers'?)"


def test_unknown_key_deep_inside_a_runner_and_an_io(tmp_path: Path) -> None:
    text = RUNNER_AND_API.replace("{model:", "{batching: {max_batchsize: 3}, model:")
    assert error_for(tmp_path, text).endswith(
        ": runners.iris_clf.batching.max_batchsize: unknown key (did you mean 'max_batch_size'?)"
    )
    text = RUNNER_AND_API.replace("input: {type: ndarray}", "input: {type: ndarray, dtyp: float32}")
    # the union tag pydantic puts in its error locations is not a key of the file
    assert error_for(tmp_path, text).endswith(": apis.0.input.dtyp: unknown key (did you mean 'dtype'?)")


def test_unknown_key_wins_over_the_missing_one_it_misspells(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "middlewares: [{klass: 'a.b:C'}]\n"), env={})
    assert str(caught.value).endswith(": middlewares.0.klass: unknown key (did you mean 'class'?)")
    assert [str(e).split(": ", 1)[1] for e in caught.value.errors] == [
        "middlewares.0.klass: unknown key (did you mean 'class'?)",
        "middlewares.0.class: missing required key",
    ]


def test_wrong_type(in_tmp: Path) -> None:
    write(in_tmp, "server: {workers: two}\n")
    with pytest.raises(ConfigError) as caught:
        load_config("config/x.yaml", env={})
    message = str(caught.value)
    assert message.startswith("config/x.yaml: server.workers: Input should be a valid integer")
    assert message.endswith("(got 'two')")
    assert caught.value.value == "two"


def test_section_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert error_for(tmp_path, "server: 3\n").endswith(": server: should be a mapping of keys (got 3)")


def test_every_problem_is_kept_and_the_first_is_the_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "server: {port: x, timeout: -1}\nmetrics: {enabled: maybe}\n"), env={})
    keys = [e.key for e in caught.value.errors]
    assert keys == ["server.port", "server.timeout", "metrics.enabled"]
    assert caught.value.key == "server.port"
    assert all("\n" not in str(e) for e in caught.value.errors)


@pytest.mark.parametrize(
    "text",
    [
        "server:\n  port: [\n",  # YAML error whose description spans lines
        "name: {a: 1}\n",
        "apis: [{name: x, runner: r.m, input: {type: json}, output: {type: json}}]\n",
        "server: {max_request_size: \"20\\nMiB\"}\n",
    ],
)
def test_message_is_exactly_one_line(tmp_path: Path, text: str) -> None:
    message = error_for(tmp_path, text)
    assert message and "\n" not in message and "\r" not in message


def test_long_values_are_shortened(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: [" + ", ".join(["abcdef"] * 50) + "]\n")
    got = message[message.index("(got ") :]
    assert len(got) <= len("(got )") + 80 and got.endswith("...)")


# --- server values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20MiB", 20 * 2**20), ("1GB", 10**9), ("512KiB", 512 * 1024), ("100k", 100_000), (4096, 4096)],
)
def test_max_request_size_accepts_sizes(tmp_path: Path, text: object, expected: int) -> None:
    config = load_config(write(tmp_path, f"server: {{max_request_size: {text}}}\n"), env={})
    assert config.server.max_request_size == expected


def test_bad_size_string(tmp_path: Path) -> None:
    message = error_for(tmp_path, "server: {max_request_size: 20XB}\n")
    assert "config/x.yaml: server.max_request_size: a size is a number of bytes" in message
    assert message.endswith("(got '20XB')")
    assert "greater than 0" in error_for(tmp_path, "server: {max_request_size: 0}\n")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("server: {port: 70000}", "server.port"),
        ("server: {workers: 0}", "server.workers"),
        ("server: {timeout: 0}", "server.timeout"),
        ("server: {max_concurrency: 0}", "server.max_concurrency"),
        ("server: {graceful_timeout: -1}", "server.graceful_timeout"),
        ("server: {cors: {max_age: -1}}", "server.cors.max_age"),
        ("server: {header_timeout: 0}", "server.header_timeout"),
        ("server: {body_timeout: -1}", "server.body_timeout"),
        ("server: {keepalive_timeout: 0}", "server.keepalive_timeout"),
        ("server: {max_header_size: 100}", "server.max_header_size"),
        ("server: {max_headers: 0}", "server.max_headers"),
    ],
)
def test_server_bounds(tmp_path: Path, text: str, key: str) -> None:
    assert f": {key}: " in error_for(tmp_path, text)


def test_connection_limits_take_sizes_and_fractions(tmp_path: Path) -> None:
    text = "server: {header_timeout: 0.5, body_timeout: 2, keepalive_timeout: 1.5, max_header_size: 8KiB, max_headers: 50}\n"
    server = load_config(write(tmp_path, text), env={}).server
    assert (server.header_timeout, server.body_timeout, server.keepalive_timeout) == (0.5, 2, 1.5)
    assert (server.max_header_size, server.max_headers) == (8192, 50)


def test_workers_null_means_cpu_count_and_root_path_is_normalised(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "server: {workers: null, root_path: api/v1/}\n"), env={})
    assert config.server.workers == (os.cpu_count() or 1)
    assert config.server.root_path == "/api/v1"


def test_values_assigned_later_are_validated() -> None:
    config = TiffinConfig()
    config.server.port = "8080"  # type: ignore[assignment]
    assert config.server.port == 8080
    with pytest.raises(ValueError):
        config.server.port = "http"  # type: ignore[assignment]


# --- runners and APIs ------------------------------------------------------------------------


def test_route_defaults_to_name_and_gets_a_leading_slash(tmp_path: Path) -> None:
    text = RUNNER_AND_API + "  - {name: v1_predict, route: v1/models/predict, runner: iris_clf.predict, input: {type: json}, output: {type: json}}\n"
    config = load_config(write(tmp_path, text), env={})
    assert [api.route for api in config.apis] == ["/classify", "/v1/models/predict"]


def test_duplicate_api_names_and_routes(tmp_path: Path) -> None:
    same_name = RUNNER_AND_API + "  - {name: classify, route: /other, runner: iris_clf.predict, input: {type: json}, output: {type: json}}\n"
    assert error_for(tmp_path, same_name).endswith(": apis.1.name: name already used by apis.0 (got 'classify')")
    same_route = RUNNER_AND_API + "  - {name: other, route: classify, runner: iris_clf.predict, input: {type: json}, output: {type: json}}\n"
    assert error_for(tmp_path, same_route).endswith(": apis.1.route: route already used by apis.0 (got '/classify')")


def test_route_of_an_infrastructure_endpoint_is_refused(tmp_path: Path) -> None:
    text = RUNNER_AND_API.replace("runner: iris_clf.predict", "route: metrics\n    runner: iris_clf.predict")
    assert error_for(tmp_path, text).endswith(": apis.0.route: the server answers this path itself (got '/metrics')")


def test_api_runner_must_name_a_runner(in_tmp: Path) -> None:
    write(in_tmp, RUNNER_AND_API.replace("runner: iris_clf.predict", "runner: iris.predict"))
    with pytest.raises(ConfigError) as caught:
        load_config("config/x.yaml", env={})
    assert str(caught.value) == "config/x.yaml: apis.0.runner: no runner named 'iris' (runners: iris_clf)"


def test_api_runner_form_and_name(tmp_path: Path) -> None:
    bad_form = RUNNER_AND_API.replace("runner: iris_clf.predict", "runner: iris_clf")
    assert ": apis.0.runner: should be RUNNER.METHOD" in error_for(tmp_path, bad_form)
    bad_name = RUNNER_AND_API.replace("name: classify", "name: classify-me")
    assert ": apis.0.name: should be a Python identifier" in error_for(tmp_path, bad_name)


def test_runner_needs_exactly_one_of_model_and_runnable(tmp_path: Path) -> None:
    neither = error_for(tmp_path, "runners: {a: {timeout: 3}}\n")
    assert neither.endswith(": runners.a: needs 'model' (a model tag) or 'runnable' (an import path)")
    both = error_for(tmp_path, "runners: {a: {model: x, runnable: 'pkg.mod:R'}}\n")
    assert both.endswith(": runners.a.runnable: give 'model' or 'runnable', not both")
    config = load_config(write(tmp_path, "runners: {a: {runnable: 'pkg.mod:R', init_params: {k: 1}}}\n"), env={})
    assert config.runners["a"].runnable == "pkg.mod:R" and config.runners["a"].init_params == {"k": 1}


def test_runner_values(tmp_path: Path) -> None:
    assert ": runners.a.model: should be a model tag" in error_for(tmp_path, "runners: {a: {model: 'x y'}}")
    assert ": runners.a.url: should be an http" in error_for(tmp_path, "runners: {a: {model: x, url: 'runner:3001'}}")
    assert ": runners.a.runnable: expected FILE.py:NAME" in error_for(tmp_path, "runners: {a: {runnable: nope}}")
    assert ": runners.a.batching.max_batch_size: " in error_for(tmp_path, "runners: {a: {model: x, batching: {max_batch_size: 0}}}")
    assert ": runners.a.b: a runner name may hold only" in error_for(tmp_path, "runners: {'a.b': {model: x}}")
    assert "shares TIFFIN_RUNNER_A_B_URL" in error_for(tmp_path, "runners: {a_b: {model: x}, a-b: {model: y}}")
    config = load_config(write(tmp_path, "runners: {a: {model: x, url: 'http://runner:3001/'}}"), env={})
    assert config.runners["a"].url == "http://runner:3001"
    config = load_config(write(tmp_path, "runners: {a: {model: x, url: 'http+unix://%2Frun%2Fa.sock'}}"), env={})
    assert config.runners["a"].url == "http+unix://%2Frun%2Fa.sock"


def test_a_models_threads_and_device(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "runners: {a: {model: x, threads: 2, device: 'cuda:1'}}"), env={})
    assert (config.runners["a"].threads, config.runners["a"].device) == (2, "cuda:1")
    assert load_config(write(tmp_path, "runners: {a: {model: x}}"), env={}).runners["a"].device is None
    assert ": runners.a.threads: " in error_for(tmp_path, "runners: {a: {model: x, threads: 0}}")
    bad_device = error_for(tmp_path, "runners: {a: {model: x, device: gpu}}")
    assert ": runners.a.device: device must be 'cpu', 'cuda' or 'cuda:N'" in bad_device
    runnable = error_for(tmp_path, "runners: {a: {runnable: 'pkg.mod:R', device: cpu}}")
    assert ": runners.a.device: applies to a stored model" in runnable


def test_io_is_chosen_by_type(tmp_path: Path) -> None:
    unknown = RUNNER_AND_API.replace("input: {type: ndarray}", "input: {type: tensor}")
    assert error_for(tmp_path, unknown).endswith(
        ": apis.0.input.type: unknown type; expected one of 'ndarray', 'json', 'text', 'dataframe', 'file', 'image',"
        " 'series' (got 'tensor')"
    )
    missing = RUNNER_AND_API.replace("input: {type: ndarray}", "input: {dtype: float32}")
    assert error_for(tmp_path, missing).endswith(": apis.0.input.type: missing required key")
    json_extra = RUNNER_AND_API.replace("output: {type: ndarray}", "output: {type: json, dtype: x}")
    assert error_for(tmp_path, json_extra).endswith(": apis.0.output.dtype: unknown key (did you mean 'type'?)")


def test_ndarray_settings_are_checked(tmp_path: Path) -> None:
    def with_input(spec: str) -> str:
        return error_for(tmp_path, RUNNER_AND_API.replace("input: {type: ndarray}", f"input: {spec}"))

    assert with_input("{type: ndarray, dtype: floaty}").endswith(": apis.0.input.dtype: not a numpy dtype (got 'floaty')")
    assert "object and structured dtypes" in with_input("{type: ndarray, dtype: object}")
    assert ": apis.0.input.shape: each dimension" in with_input("{type: ndarray, shape: [-2, 4]}")
    assert with_input("{type: ndarray, enforce_shape: true}").endswith(": apis.0.input.enforce_shape: needs 'shape' (got True)")
    assert ": apis.0.input.enforce_dtype: needs 'dtype'" in with_input("{type: ndarray, enforce_dtype: true}")
    assert ": apis.0.input.orient: " in with_input("{type: dataframe, orient: sideways}")
    assert ": apis.0.input.mime_type: should be a media type" in with_input("{type: file, mime_type: png}")
    assert ": apis.0.input.dtype: not a numpy dtype" in with_input("{type: ndarray, dtype: '(2)i4'}")


def test_dataframe_series_and_image_settings(tmp_path: Path) -> None:
    def config_with_input(spec: str) -> TiffinConfig:
        return load_config(write(tmp_path, RUNNER_AND_API.replace("input: {type: ndarray}", f"input: {spec}")), env={})

    def with_input(spec: str) -> str:
        return error_for(tmp_path, RUNNER_AND_API.replace("input: {type: ndarray}", f"input: {spec}"))

    frame = config_with_input(
        "{type: dataframe, orient: index, columns: [a, b], dtype: {a: int64, b: str}, default_format: parquet}"
    ).apis[0].input
    assert frame.model_dump() == {
        "type": "dataframe",
        "orient": "index",
        "columns": ["a", "b"],
        "apply_column_names": False,
        "dtype": {"a": "int64", "b": "str"},
        "enforce_dtype": False,
        "shape": None,
        "enforce_shape": False,
        "default_format": "parquet",
    }
    assert with_input("{type: dataframe, dtype: {a: inty}}").endswith(
        ": apis.0.input.dtype.a: not a numpy or pandas dtype (got 'inty')"
    )
    no_columns = with_input("{type: dataframe, apply_column_names: true}")
    assert ": apis.0.input.apply_column_names: needs 'columns'" in no_columns
    assert ": apis.0.input.enforce_shape: needs 'shape'" in with_input("{type: dataframe, enforce_shape: true}")
    assert ": apis.0.input.default_format: " in with_input("{type: dataframe, default_format: xml}")
    series = config_with_input("{type: series, dtype: float32, shape: [-1], enforce_shape: true}").apis[0].input
    assert (series.type, series.dtype, series.shape) == ("series", "float32", [-1])
    assert ": apis.0.input.orient: " in with_input("{type: series, orient: columns}")
    image = config_with_input("{type: image, pilmode: RGB, allowed_mime_types: [image/png]}").apis[0].input
    assert (image.type, image.pilmode, image.mime_type, image.max_pixels) == ("image", "RGB", "image/jpeg", 50_000_000)
    assert ": apis.0.input.allowed_mime_types.0: should be a media type" in with_input(
        "{type: image, allowed_mime_types: [png]}"
    )
    assert ": apis.0.input.max_pixels: " in with_input("{type: image, max_pixels: 0}")


# --- middlewares, mounts, metrics, logging -------------------------------------------------


def test_middleware_class_key(tmp_path: Path) -> None:
    text = "middlewares:\n  - class: starlette.middleware.trustedhost:TrustedHostMiddleware\n    options: {allowed_hosts: [example.com]}\n"
    (middleware,) = load_config(write(tmp_path, text), env={}).middlewares
    assert middleware.cls == "starlette.middleware.trustedhost:TrustedHostMiddleware"
    assert middleware.options == {"allowed_hosts": ["example.com"]}
    assert MiddlewareConfig(cls="a:B").model_dump(by_alias=True) == {"class": "a:B", "options": {}}
    assert ": middlewares.0.class: expected FILE.py:NAME" in error_for(tmp_path, "middlewares: [{class: nope}]")


def test_mounts(tmp_path: Path) -> None:
    text = "mounts:\n  - {path: /fastapi/, app: 'examples/fastapi_app.py:app'}\n  - {path: /, app: 'flask_app:app', kind: wsgi, name: legacy}\n"
    first, second = load_config(write(tmp_path, text), env={}).mounts
    assert (first.path, first.kind, first.name) == ("/fastapi", "auto", None)
    assert (second.path, second.kind, second.name) == ("/", "wsgi", "legacy")
    assert error_for(tmp_path, "mounts: [{path: fastapi, app: 'a:b'}]").endswith(
        ": mounts.0.path: should start with '/' (got 'fastapi')"
    )
    assert ": mounts.0.kind: " in error_for(tmp_path, "mounts: [{path: /a, app: 'a:b', kind: rsgi}]")
    assert ": mounts.1.path: path already used by mounts.0" in error_for(
        tmp_path, "mounts: [{path: /a, app: 'a:b'}, {path: /a/, app: 'a:c'}]"
    )


def test_metric_buckets_must_be_positive_and_increasing(tmp_path: Path) -> None:
    assert error_for(tmp_path, "metrics: {duration_buckets: [1, 0.5]}").endswith(
        ": metrics.duration_buckets.1: buckets should be in increasing order (got 0.5)"
    )
    assert ": metrics.duration_buckets.0: should be greater than 0" in error_for(tmp_path, "metrics: {duration_buckets: [0, 1]}")
    assert ": metrics.duration_buckets: needs at least one bucket" in error_for(tmp_path, "metrics: {duration_buckets: []}")
    assert ": metrics.namespace: " in error_for(tmp_path, "metrics: {namespace: 'my-app'}")


def test_log_level_ignores_case_but_reports_as_written(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "logging: {level: debug}"), env={}).logging.level == "DEBUG"
    assert error_for(tmp_path, "logging: {level: verbose}").endswith(
        ": logging.level: Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL' (got 'verbose')"
    )


# --- environment -------------------------------------------------------------------------


def test_every_env_override(tmp_path: Path) -> None:
    env = {
        "TIFFIN_HOST": "127.0.0.1",
        "TIFFIN_PORT": "8080",
        "TIFFIN_WORKERS": "3",
        "TIFFIN_TIMEOUT": "2.5",
        "TIFFIN_MAX_CONCURRENCY": "40",
        "TIFFIN_MAX_REQUEST_SIZE": "1MiB",
        "TIFFIN_GRACEFUL_TIMEOUT": "5",
        "TIFFIN_ROOT_PATH": "/gateway",
        "TIFFIN_LOG_LEVEL": "warning",
        "TIFFIN_METRICS_ENABLED": "false",
        "TIFFIN_SERVICE": "examples/iris_service.py:svc",
        "TIFFIN_RUNNER_IRIS_CLF_URL": "http://runner:3001",
        "TIFFIN_TRACING_ENABLED": "true",
        "TIFFIN_TRACING_SAMPLE_RATE": "0.5",
        "TIFFIN_TRACING_EXPORTER": "console",
        "TIFFIN_TRACING_ENDPOINT": "http://collector:4318",
    }
    config = load_config(write(tmp_path, "server: {port: 3000, workers: 2}\n" + RUNNER_AND_API), env=env)
    server = config.server
    assert (server.host, server.port, server.workers, server.timeout) == ("127.0.0.1", 8080, 3, 2.5)
    assert (server.max_concurrency, server.max_request_size, server.graceful_timeout) == (40, 2**20, 5)
    assert server.root_path == "/gateway"
    assert config.logging.level == "WARNING" and config.metrics.enabled is False
    assert config.service == "examples/iris_service.py:svc"
    assert config.runners["iris_clf"].url == "http://runner:3001"
    assert config.tracing.to_options().to_env() == {k: v for k, v in env.items() if k.startswith("TIFFIN_TRACING")}
    assert set(env) - {"TIFFIN_RUNNER_IRIS_CLF_URL"} == set(ENV_OVERRIDES)
    assert "timeout" in server.model_fields_set  # an env value counts as set by the user


def test_env_overrides_are_documented() -> None:
    for variable, key in ENV_OVERRIDES.items():
        assert f"{variable} " in app.config.schema.__doc__ and key in app.config.schema.__doc__


def test_empty_env_value_is_unset_and_other_runners_are_ignored(tmp_path: Path) -> None:
    env = {"TIFFIN_PORT": "", "TIFFIN_RUNNER_OTHER_URL": "http://x:1"}
    config = load_config(write(tmp_path, "server: {port: 4000}\n" + RUNNER_AND_API), env=env)
    assert config.server.port == 4000 and "other" not in config.runners


def test_runner_url_from_env_for_a_dashed_name(tmp_path: Path) -> None:
    text = "runners: {iris-clf: {model: x, url: 'http://file:1'}}\n"
    config = load_config(write(tmp_path, text), env={"TIFFIN_RUNNER_IRIS_CLF_URL": "http://env:2"})
    assert config.runners["iris-clf"].url == "http://env:2"


def test_invalid_env_value_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, RUNNER_AND_API)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={"TIFFIN_PORT": "http"})
    message = str(caught.value)
    assert message.startswith("environment variable TIFFIN_PORT: server.port: Input should be a valid integer")
    assert message.endswith("(got 'http')")
    with pytest.raises(ConfigError, match=r"^environment variable TIFFIN_RUNNER_IRIS_CLF_URL: runners\.iris_clf\.url: "):
        load_config(path, env={"TIFFIN_RUNNER_IRIS_CLF_URL": "runner:3001"})
    with pytest.raises(ConfigError, match=r"^environment variable TIFFIN_MAX_REQUEST_SIZE: server\.max_request_size: "):
        load_config(path, env={"TIFFIN_MAX_REQUEST_SIZE": "lots"})


def test_command_line_overrides_beat_env_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "server: {port: 1000}\n")
    config = load_config(path, env={"TIFFIN_PORT": "2000"}, overrides={"server.port": 3000})
    assert config.server.port == 3000
    with pytest.raises(ConfigError, match=r"^command line: server\.workers: "):
        load_config(path, env={}, overrides={"server.workers": "many"})


def test_env_value_under_a_section_that_is_not_a_mapping(tmp_path: Path) -> None:
    message = error_for(tmp_path, "server: 3\n", env={"TIFFIN_PORT": "80"})
    assert message.endswith(": server: should be a mapping of keys (got 3)")


# --- imports -----------------------------------------------------------------------------


def test_check_imports_accepts_good_targets(in_tmp: Path) -> None:
    write(in_tmp, "def app(scope, receive, send):\n    pass\n\nclass Runnable:\n    pass\n", "project/apps.py")
    text = """
service: project/apps.py:app
runners: {r: {runnable: 'project/apps.py:Runnable'}}
middlewares: [{class: starlette.middleware.trustedhost:TrustedHostMiddleware}]
mounts: [{path: /a, app: project/apps.py:app}]
"""
    check_imports(load_config(write(in_tmp, text, "project/config/tiffin.yaml"), env={}))


def test_check_imports_names_the_key(in_tmp: Path) -> None:
    write(in_tmp, "mounts: [{path: /a, app: 'examples/nope.py:app'}]\n")
    with pytest.raises(ConfigError) as caught:
        check_imports(load_config("config/x.yaml", env={}))
    assert str(caught.value) == (
        f"config/x.yaml: mounts.0.app: cannot import 'examples/nope.py:app': file not found (searched {in_tmp})"
    )


def test_check_imports_checks_what_each_target_is(in_tmp: Path) -> None:
    write(in_tmp, "NOT_AN_APP = 42\nclass Runnable:\n    pass\nrunnable = Runnable()\n", "things.py")
    text = """
runners: {r: {runnable: 'things.py:runnable'}}
middlewares: [{class: 'things.py:NOT_AN_APP'}]
mounts: [{path: /a, app: 'things.py:NOT_AN_APP'}, {path: /b, app: 'no_such_module_here:app'}]
"""
    with pytest.raises(ConfigError) as caught:
        write(in_tmp, text)
        check_imports(load_config("config/x.yaml", env={}))
    assert [str(e) for e in caught.value.errors] == [
        "config/x.yaml: runners.r.runnable: 'things.py:runnable' names a Runnable, not a class",
        "config/x.yaml: middlewares.0.class: 'things.py:NOT_AN_APP' names a int, not a middleware class",
        "config/x.yaml: mounts.0.app: 'things.py:NOT_AN_APP' names a int, not an ASGI or WSGI app",
        "config/x.yaml: mounts.1.app: cannot import 'no_such_module_here:app': module 'no_such_module_here' not found",
    ]
    assert str(caught.value) == str(caught.value.errors[0])


def test_check_imports_reports_a_file_that_raises(in_tmp: Path) -> None:
    write(in_tmp, "x = (\n", "broken.py")
    with pytest.raises(ConfigError) as caught:
        write(in_tmp, "service: broken.py:svc\n")
        check_imports(load_config("config/x.yaml", env={}))
    message = str(caught.value)
    assert message.startswith("config/x.yaml: service: cannot import 'broken.py:svc': importing it raised SyntaxError")
    assert "\n" not in message


def test_relative_files_resolve_against_cwd_then_the_config_dirs_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    write(project, "WHERE = 'project'\ndef app(): pass\n", "svc/where_cfg.py")
    config_path = write(project, "service: svc/where_cfg.py:app\n", "config/service.yaml")
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(config_path, env={})
    assert config.base_dirs == (elsewhere, project)
    check_imports(config)  # found beside config/, not in the current directory
    with pytest.raises(ConfigError, match="file not found"):
        check_imports(config, base_dir=tmp_path)


def test_check_imports_names_the_env_variable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), env={"TIFFIN_SERVICE": "no_such_module_here:svc"})
    with pytest.raises(ConfigError, match=r"^environment variable TIFFIN_SERVICE: service: cannot import"):
        check_imports(config)


def test_tracing_section_and_its_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "tracing: {enabled: true, sample_rate: 0.5, endpoint: 'http://collector:4318'}\n")
    config = load_config(path, env={})
    options = config.tracing.to_options()
    assert (options.enabled, options.sample_rate, options.exporter, options.protocol) == (True, 0.5, "otlp", "http/protobuf")
    assert options.traces_url == "http://collector:4318/v1/traces"
    env = {"TIFFIN_TRACING_EXPORTER": "console", "TIFFIN_TRACING_SAMPLE_RATE": "0.1"}
    assert load_config(path, env=env).tracing.to_options().exporter == "console"
    assert load_config(None, env={}, default_file=False).tracing.enabled is False
    assert load_config(path, env={}).server.stream_idle_timeout is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("tracing: {sample_rate: 1.5}", "tracing.sample_rate"),
        ("tracing: {exporter: zipkin}", "tracing.exporter"),
        ("tracing: {protocol: grpc}", "tracing.protocol"),
        ("tracing: {endpoint: 'collector:4318'}", "tracing.endpoint"),
        ("tracing: {enable: true}", "tracing.enable"),
        ("server: {stream_idle_timeout: 0}", "server.stream_idle_timeout"),
    ],
)
def test_tracing_and_stream_mistakes_name_their_key(tmp_path: Path, text: str, key: str) -> None:
    assert f": {key}: " in error_for(tmp_path, text)
def test_runner_workers_default_to_one_and_go_into_the_spec(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "runners: {a: {model: x}, b: {model: y, workers: 3}}\n"), env={})
    assert config.runners["a"].workers == 1
    assert config.runners["b"].to_spec("b").workers == 3
    assert ": runners.b.workers: " in error_for(tmp_path, "runners: {b: {model: y, workers: 0}}\n")


def test_plain_dtypes_are_checked_without_numpy_and_others_with_it(tmp_path: Path) -> None:
    text = "runners: {r: {model: x}}\napis:\n  - {name: a, runner: r.p, input: {type: ndarray, dtype: %s}, output: {type: ndarray}}\n"
    assert load_config(write(tmp_path, text % "float64"), env={}).apis[0].input.dtype == "float64"
    assert load_config(write(tmp_path, text % "'<f4'"), env={}).apis[0].input.dtype == "<f4"
    assert ": apis.0.input.dtype: not a numpy dtype" in error_for(tmp_path, text % "floaty")
    assert "object and structured dtypes are not allowed" in error_for(tmp_path, text % "object")
