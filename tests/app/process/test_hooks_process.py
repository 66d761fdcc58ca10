"""Hooks, Context and load-time checks through real ``tiffin serve`` / ``tiffin api`` processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.procs import Proc, free_port, tiffin

SERVICE = "tests/app/services/hooks_service.py:svc"


def files(directory: Path, hook: str) -> list[Path]:
    return sorted(directory.glob(f"{hook}-*"))


def wait_for_files(directory: Path, hook: str, count: int, timeout: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = files(directory, hook)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{count} {hook} files expected in {directory}, found {files(directory, hook)}")


def start(command: str, hooks_dir: Path, *extra: str, fail: str = "") -> tuple[Proc, str]:
    port = free_port()
    env = {"HOOKS_DIR": str(hooks_dir), "HOOKS_FAIL": fail}
    proc = Proc(tiffin(command, SERVICE, "--host", "127.0.0.1", "--port", str(port), *extra), env=env)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, str, Path]]:
    hooks_dir = tmp_path_factory.mktemp("hooks")
    proc, url = start("serve", hooks_dir, "--workers", "2")
    try:
        proc.wait_http(url + "/readyz", timeout=60)
        wait_for_files(hooks_dir, "startup", 2)
        yield proc, url, hooks_dir
    finally:
        proc.stop()


def test_serve_runs_the_deployment_hook_once_and_startup_in_every_worker(served) -> None:
    proc, url, hooks_dir = served
    deployment = files(hooks_dir, "deployment")
    assert [p.name for p in deployment] == [f"deployment-{proc.pid}"]  # in the supervisor, not in the API master
    startup_pids = {int(p.name.split("-")[1]) for p in files(hooks_dir, "startup")}
    assert len(startup_pids) == 2 and proc.pid not in startup_pids
    seen = {httpx.post(url + "/whoami", json={}).json()["worker"] for _ in range(40)}
    assert seen <= startup_pids  # each worker's state is what its own startup hook put there


def test_ctx_reads_the_request_and_sets_status_headers_and_cookies(served) -> None:
    _, url, _ = served
    answer = httpx.post(
        url + "/whoami?lang=en",
        json={},
        headers={"user-agent": "probe/1", "x-request-id": "rid-42", "cookie": "flavour=mint"},
    )
    body = answer.json()
    assert body["worker"] == body["pid"]
    assert {k: body[k] for k in ("agent", "query", "cookie", "client", "request_id")} == {
        "agent": "probe/1",
        "query": {"lang": "en"},
        "cookie": "mint",
        "client": "127.0.0.1",
        "request_id": "rid-42",
    }
    failed = httpx.post(url + "/use_context?error=yes", content=b"", headers={"content-type": "text/plain"})
    assert (failed.status_code, failed.content) == (400, b"yes")
    echoed = httpx.post(url + "/use_context", content=b"hi", headers={"content-type": "text/plain"})
    assert echoed.status_code == 201 and echoed.text == "hi"
    assert echoed.headers["x-echo"] == "hi"
    assert echoed.cookies["echoed"] == "hi" and "HttpOnly" in echoed.headers["set-cookie"]


def test_api_runs_the_deployment_hook_in_the_master_and_shutdown_in_every_worker(tmp_path: Path) -> None:
    proc, url = start("api", tmp_path, "--workers", "2")
    try:
        proc.wait_http(url + "/readyz", timeout=60)
        workers = {p.name.split("-")[1] for p in wait_for_files(tmp_path, "startup", 2)}
        assert [p.name for p in files(tmp_path, "deployment")] == [f"deployment-{proc.pid}"]
    finally:
        proc.stop()
    assert {p.name.split("-")[1] for p in wait_for_files(tmp_path, "shutdown", 2)} == workers


@pytest.mark.parametrize(
    ("command", "fail", "line"),
    [
        ("serve", "deployment", "on_deployment hook tests/app/services/hooks_service.py:"),
        ("api", "deployment", "on_deployment hook tests/app/services/hooks_service.py:"),
        ("serve", "startup", "on_startup hook tests/app/services/hooks_service.py:"),
        ("api", "startup", "on_startup hook tests/app/services/hooks_service.py:"),
    ],
)
def test_a_raising_hook_stops_the_start_with_exit_2_and_one_line(
    tmp_path: Path, command: str, fail: str, line: str
) -> None:
    proc, _ = start(command, tmp_path, "--workers", "2", fail=fail)
    try:
        assert proc.wait(timeout=60) == 2
        summary = [text for text in proc.output().splitlines() if text.startswith("tiffin: ")]
        assert len(summary) == 1, proc.output()
        assert summary[0].startswith("tiffin: " + line)
        error = "RuntimeError: the weights are not there" if fail == "deployment" else "ConnectionError: no database"
        assert summary[0].endswith(f"raised {error}")
        assert files(tmp_path, "startup") == []
        if fail == "deployment":
            assert "Booting worker" not in proc.output()
    finally:
        proc.stop()


@pytest.mark.parametrize("command", ["serve", "api"])
@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (
            "tests/app/services/bad_signature_service.py:svc",
            "tests/app/services/bad_signature_service.py:13: API 'classify' (function classify): requires threshold",
        ),
        (
            "tests/app/services/missing_model_service.py:svc",
            "service 'missing_model' declares model 'not_trained_yet:latest'",
        ),
    ],
)
def test_a_service_tiffin_cannot_serve_is_refused_before_any_worker_forks(
    tmp_path: Path, command: str, target: str, problem: str
) -> None:
    port = free_port()
    proc = Proc(tiffin(command, target, "--port", str(port)), env={"TIFFIN_HOME": str(tmp_path)})
    try:
        assert proc.wait(timeout=60) == 2
        output = proc.output()
        assert output.startswith("tiffin: ") and len(output.strip().splitlines()) == 1, output
        assert problem in output
    finally:
        proc.stop()
