"""Fixtures for tests that start tiffin's containers: the image, a private network, containers
on it, and a whole ``docker-compose.yml`` project.

Traffic stays on this machine: containers talk on a network the fixture creates, and ports are
published on 127.0.0.1 only. Every fixture removes what it created (containers with their
anonymous volumes, networks, compose projects with ``down -v``), also when the test fails. The
tests are skipped when no Docker daemon answers.

Environment:
    TIFFIN_TEST_IMAGE             test this image as it is [default: build tiffin:local from the
                                  checkout; unchanged layers come from the cache]
    TIFFIN_TEST_BASE_IMAGE        BASE_IMAGE for that build [tiffin-base:local if it exists,
                                  else the Dockerfile's default, python:3.11-slim-bookworm]
    TIFFIN_TEST_PROMETHEUS_IMAGE  Prometheus for compose tests [tiffin-prometheus:local if it
                                  exists, else docker-compose.yml's default]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
LABEL = "tiffin.test"
DEFAULT_IMAGE = "tiffin:local"
LOCAL_BASE = "tiffin-base:local"
LOCAL_PROMETHEUS = "tiffin-prometheus:local"
BUILD_TIMEOUT = 900


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Room for the image build, which the first test's setup pays for."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT))


# --- the daemon and the image -------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker daemon: {exc}")
    yield client
    client.close()


def image_exists(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(scope="session")
def tiffin_image(docker_client: Any) -> str:
    """The tag of the image under test, built from the checkout unless TIFFIN_TEST_IMAGE names one."""
    given = os.environ.get("TIFFIN_TEST_IMAGE")
    if given:
        if not image_exists(docker_client, given):
            pytest.fail(f"TIFFIN_TEST_IMAGE={given} does not exist")
        return given
    base = os.environ.get("TIFFIN_TEST_BASE_IMAGE") or (
        LOCAL_BASE if image_exists(docker_client, LOCAL_BASE) else None
    )
    buildargs = {"BASE_IMAGE": base} if base else {}
    try:
        docker_client.images.build(path=str(ROOT), tag=DEFAULT_IMAGE, buildargs=buildargs, rm=True, forcerm=True)
    except docker.errors.BuildError as exc:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
        pytest.fail(f"docker build failed: {exc.msg}\n{log[-4000:]}")
    return DEFAULT_IMAGE


# --- networks and containers --------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def docker_network(docker_client: Any) -> Iterator[Any]:
    """A bridge network of this test's own; its containers and itself are removed afterwards."""
    network = docker_client.networks.create(unique("tiffin-test"), driver="bridge", labels={LABEL: "1"})
    yield network
    network.reload()
    for container in network.containers:
        remove_container(container)
    network.remove()


def remove_container(container: Any, timeout: int = 10) -> None:
    try:
        container.stop(timeout=timeout)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError:
        pass
    try:
        container.remove(v=True, force=True)
    except docker.errors.NotFound:
        pass


StartContainer = Callable[..., Any]


@pytest.fixture
def start_container(docker_client: Any, docker_network: Any, tiffin_image: str) -> Iterator[StartContainer]:
    """``start_container(command, aliases=("runner",), ports=(3000,), env={...}, image=...)``.

    Starts a detached container of the image under test on ``docker_network``, reachable by the
    other containers at each alias, each port in ``ports`` published on 127.0.0.1 at a free port
    (see ``host_port``). Stopped (SIGTERM, then SIGKILL after 10 s) and removed at teardown.
    """
    started: list[Any] = []

    def start(
        command: Sequence[str] | None = None,
        *,
        aliases: Sequence[str] = (),
        ports: Sequence[int] = (),
        env: dict[str, str] | None = None,
        image: str | None = None,
        **kwargs: Any,
    ) -> Any:
        network = docker_network.name
        container = docker_client.containers.run(
            image or tiffin_image,
            list(command) if command is not None else None,
            detach=True,
            name=unique("tiffin-test"),
            labels={LABEL: "1"},
            environment=env or {},
            network=network,
            networking_config={network: docker_client.api.create_endpoint_config(aliases=list(aliases))},
            ports={f"{port}/tcp": ("127.0.0.1", None) for port in ports},
            **kwargs,
        )
        started.append(container)
        return container

    yield start
    for container in reversed(started):
        remove_container(container)


def host_port(container: Any, port: int) -> int:
    """The 127.0.0.1 port where the container's ``port`` is published."""
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostIp") in ("127.0.0.1", ""):
            return int(binding["HostPort"])
    raise AssertionError(f"{container.name}: port {port} is not published on 127.0.0.1: {bindings}")


def logs(container: Any, tail: int = 60) -> str:
    return container.logs(tail=tail).decode(errors="replace")


def wait_healthy(container: Any, timeout: float = 120.0) -> None:
    """Until the container's HEALTHCHECK says healthy; fails at once if it exits or turns unhealthy."""
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        state = container.attrs["State"]
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy":
            return
        if state["Status"] in ("exited", "dead") or health == "unhealthy":
            raise AssertionError(f"{container.name} is {state['Status']}/{health}:\n{logs(container)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{container.name} not healthy after {timeout} s ({health}):\n{logs(container)}")
        time.sleep(0.25)


def wait_http(url: str, status: int = 200, timeout: float = 120.0) -> httpx.Response:
    """Poll ``url`` until it answers ``status``; returns that response."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == status:
                return response
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer {status} within {timeout} s (last: {last!r})")


# --- docker-compose.yml -------------------------------------------------------------------------


def compose_command() -> list[str]:
    """``docker compose`` (v2) when the plugin is there, else ``docker-compose`` (v1.29)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("neither docker compose nor docker-compose is installed")


class Compose:
    """One project of the repository's docker-compose.yml with a name of its own, the image under
    test, and the API and Prometheus published on free 127.0.0.1 ports."""

    def __init__(self, image: str, prometheus_image: str | None) -> None:
        self.project = unique("tiffintest").replace("-", "")
        self.command = compose_command()
        self.api_port = free_port()
        self.prometheus_port = free_port()
        self.env = {
            **os.environ,
            "TIFFIN_IMAGE": image,
            "TIFFIN_API_PORT": f"127.0.0.1:{self.api_port}",
            "TIFFIN_PROMETHEUS_PORT": f"127.0.0.1:{self.prometheus_port}",
        }
        if prometheus_image:
            self.env["PROMETHEUS_IMAGE"] = prometheus_image

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    def run(self, *args: str, timeout: float = 300.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [*self.command, "-p", self.project, "-f", str(ROOT / "docker-compose.yml"), *args]
        result = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, *args: str) -> None:
        """``up -d`` (returns once the runner is healthy and the rest started), no build, no pull."""
        self.run("up", "-d", "--no-build", *args)

    def down(self) -> None:
        self.run("down", "-v", "--remove-orphans", "--timeout", "20", check=False)

    def containers(self, docker_client: Any, service: str) -> list[Any]:
        return docker_client.containers.list(
            filters={"label": [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]}
        )


@pytest.fixture
def compose(docker_client: Any, tiffin_image: str) -> Iterator[Compose]:
    prometheus = os.environ.get("TIFFIN_TEST_PROMETHEUS_IMAGE") or (
        LOCAL_PROMETHEUS if image_exists(docker_client, LOCAL_PROMETHEUS) else None
    )
    project = Compose(tiffin_image, prometheus)
    try:
        yield project
    finally:
        project.down()
