"""``tiffin serve``'s plan: which runner workers it starts, where they listen, what the API is told."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from app.config.schema import load_config
from app.process.supervisor import backoff, plan
from runners.spec import BatchingOptions, RunnerSpec

ROOT = Path(__file__).resolve().parents[3]


def test_a_runner_listens_on_tcp_and_a_unix_socket_and_the_api_uses_the_socket(tmp_path: Path) -> None:
    config = load_config(ROOT / "config" / "service.yaml", env={}, overrides={"server.port": 4000})
    (pool,), api = plan(config, ["iris_clf"], str(tmp_path))
    sock = str(tmp_path / "iris_clf.sock")
    assert pool.workers == 1 and (pool.host, pool.port) == ("127.0.0.1", 4001)
    assert pool.worker_argv(0)[-7:] == ["--host", "127.0.0.1", "--port", "4001", "--uds", sock, "--worker"]
    assert api.env["TIFFIN_RUNNER_IRIS_CLF_URL"] == f"http+unix://{quote(sock, safe='')}"
    assert api.argv[3:] == ["api", "--config", str(config.path), "--host", "0.0.0.0", "--port", "4000",
                            "--workers", str(config.server.workers)]  # fmt: skip


def test_several_workers_get_a_socket_each_and_the_api_balances_over_all(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text("runners:\n  m: {model: 'm:v1', workers: 3}\n")
    config = load_config(yaml, env={}, overrides={"server.port": 5000})
    (pool,), api = plan(config, ["m"], str(tmp_path))
    socks = [str(tmp_path / f"m-{k}.sock") for k in range(3)]
    assert pool.workers == 3
    assert [pool.worker_argv(k)[-2] for k in range(3)] == socks
    assert api.env["TIFFIN_RUNNER_M_URL"] == ",".join(f"http+unix://{quote(s, safe='')}" for s in socks)
    assert RunnerSpec.from_json(pool.command[6]).workers == 3


def test_each_worker_caps_its_threads_to_its_share_of_the_cpus(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text("runners:\n  m: {model: 'm:v1', workers: 2}\n")
    (pool,), _ = plan(load_config(yaml, env={}), ["m"], str(tmp_path))
    pool.cpus = 8
    assert pool.worker_env()["OMP_NUM_THREADS"] == "4"
    pool.cpus = 1
    assert pool.worker_env()["OPENBLAS_NUM_THREADS"] == "1"


def test_without_a_socket_directory_or_with_too_long_a_path_the_api_uses_tcp(tmp_path: Path) -> None:
    config = load_config(ROOT / "config" / "service.yaml", env={}, overrides={"server.port": 4000})
    deep = tmp_path / ("d" * 120)
    for socket_dir in (None, str(deep)):
        (pool,), api = plan(config, ["iris_clf"], socket_dir)
        assert "--uds" not in pool.worker_argv(0)
        assert api.env["TIFFIN_RUNNER_IRIS_CLF_URL"] == "http://127.0.0.1:4001"


def test_a_yaml_runner_of_a_stored_model_starts_without_the_config_layer(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text(
        "server: {graceful_timeout: 7}\nlogging: {level: WARNING}\n"
        "runners:\n  m: {model: 'm:v1', batching: {enabled: false, max_batch_size: 8, max_latency_ms: 2.5}}\n"
        "  r: {runnable: 'tests.runners.sample_runnables:Doubler'}\n"
    )
    config = load_config(yaml, env={}, overrides={"server.port": 5000})
    (model, runnable), _ = plan(config, ["m", "r"], None)
    assert model.command[1:6] == ["-m", "app.cli", "runner", "m", "--spec"]
    assert RunnerSpec.from_json(model.command[6]) == RunnerSpec(
        "m", model="m:v1", batching=BatchingOptions(enabled=False, max_batch_size=8, max_latency_ms=2.5)
    )
    assert model.worker_argv(0)[7:] == [
        "--graceful-timeout", "7.0", "--log-level", "WARNING", "--host", "127.0.0.1", "--port", "5001", "--worker",
    ]  # fmt: skip
    assert RunnerSpec.from_json(runnable.command[6]).runnable == "tests.runners.sample_runnables:Doubler"
    assert runnable.command[1:5] == ["-m", "app.cli", "runner", "r"]


def test_a_models_threads_and_device_reach_its_sidecar(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text("runners:\n  m: {model: 'm:v1', threads: 3, device: cpu}\n")
    (pool,), _ = plan(load_config(yaml, env={}, overrides={"server.port": 5000}), ["m"], None)
    spec = RunnerSpec.from_json(pool.command[pool.command.index("--spec") + 1])
    assert (spec.threads, spec.device) == (3, "cpu")


def test_a_service_runner_gets_its_spec_from_the_service(tmp_path: Path) -> None:
    yaml = tmp_path / "svc.yaml"
    yaml.write_text("runners: {}\n")
    config = load_config(yaml, env={}, overrides={"server.port": 5000})
    spec = RunnerSpec("svc_runner", runnable="tests.runners.sample_runnables:Doubler", workers=2)
    (pool,), api = plan(config, ["svc_runner"], str(tmp_path), specs={"svc_runner": spec})
    assert pool.workers == 2 and RunnerSpec.from_json(pool.command[6]) == spec
    (fallback,), _ = plan(config, ["svc_runner"], str(tmp_path))
    assert "--spec" not in fallback.command and fallback.workers == 1


def test_the_backoff_grows_while_a_worker_dies_at_start_and_is_short_after_it_served() -> None:
    delays = [backoff(n) for n in range(8)]
    assert delays[0] < delays[1] < delays[2] < delays[3]
    assert delays == sorted(delays) and delays[-1] == delays[-2]  # capped
