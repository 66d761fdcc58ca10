"""``tiffin serve``'s plan: which sidecars it starts, where they listen, what the API is told."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from app.config.schema import load_config
from app.process.supervisor import plan

ROOT = Path(__file__).resolve().parents[3]


def test_sidecars_listen_on_tcp_and_a_unix_socket_and_the_api_uses_the_socket(tmp_path: Path) -> None:
    config = load_config(ROOT / "config" / "service.yaml", env={}, overrides={"server.port": 4000})
    *runners, api = plan(config, ["iris_clf"], str(tmp_path))
    (runner,) = runners
    sock = str(tmp_path / "iris_clf.sock")
    assert runner.argv[-6:] == ["--host", "127.0.0.1", "--port", "4001", "--uds", sock]
    assert api.env["TIFFIN_RUNNER_IRIS_CLF_URL"] == f"http+unix://{quote(sock, safe='')}"


def test_without_a_socket_directory_or_with_too_long_a_path_the_api_uses_tcp(tmp_path: Path) -> None:
    config = load_config(ROOT / "config" / "service.yaml", env={}, overrides={"server.port": 4000})
    deep = tmp_path / ("d" * 120)
    for socket_dir in (None, str(deep)):
        *runners, api = plan(config, ["iris_clf"], socket_dir)
        assert "--uds" not in runners[0].argv
        assert api.env["TIFFIN_RUNNER_IRIS_CLF_URL"] == "http://127.0.0.1:4001"


def test_a_yaml_runner_of_a_stored_model_starts_without_the_config_layer(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text(
        "server: {graceful_timeout: 7}\nlogging: {level: WARNING}\n"
        "runners:\n  m: {model: 'm:v1', batching: {enabled: false, max_batch_size: 8, max_latency_ms: 2.5}}\n"
        "  r: {runnable: 'tests.runners.sample_runnables:Doubler'}\n"
    )
    config = load_config(yaml, env={}, overrides={"server.port": 5000})
    model, runnable, _ = plan(config, ["m", "r"], None)
    assert model.argv[1:4] == ["-m", "runners", "serve"]
    assert model.argv[4:] == [
        "--model", "m:v1", "--name", "m", "--max-batch-size", "8", "--max-latency-ms", "2.5", "--max-queue", "1024",
        "--graceful-timeout", "7.0", "--log-level", "warning", "--no-batching", "--host", "127.0.0.1", "--port", "5001",
    ]  # fmt: skip
    assert runnable.argv[1:5] == ["-m", "app.cli", "runner", "r"]


def test_a_models_threads_and_device_reach_its_sidecar(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text("runners:\n  m: {model: 'm:v1', threads: 3, device: cpu}\n")
    model, _ = plan(load_config(yaml, env={}, overrides={"server.port": 5000}), ["m"], None)
    assert model.argv[model.argv.index("--threads") + 1] == "3"
    assert model.argv[model.argv.index("--device") + 1] == "cpu"
