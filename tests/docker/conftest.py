"""Fixtures for the tests that run tiffin's containers: the Docker engine, the images, and
projects of the repository's ``docker-compose.yml``.

Docker is required where ``CI=true``: an engine that is missing or unusable fails the tests
there. Elsewhere they are skipped, with the reason, only when no engine answers at all.

The images are made as on a machine with no registry: ``scripts/offline-images`` makes
``tiffin-base:local`` and ``tiffin-prometheus:local`` when they are missing (it needs root and
debootstrap then) and keeps ``build/wheels`` in step with ``locks/`` (otherwise it does
nothing, in 0.1 s); then ``tiffin:local`` is built from the checkout on ``tiffin-base:local``,
mostly from Docker's layer cache, and the ``tiffin:local`` it replaces is removed. Images stay;
everything else a test makes (containers, networks, volumes, a swarm) is removed, also when the
test fails.

Traffic stays on this machine: ports are published on 127.0.0.1 only, and the containers talk
on the project's own networks.

Environment:
    CI=true                       Docker is mandatory: fail instead of skipping
    TIFFIN_TEST_IMAGE             test this image as it is, instead of building tiffin:local
    TIFFIN_TEST_BASE_IMAGE        BASE_IMAGE for the build [tiffin-base:local]
    TIFFIN_TEST_PROMETHEUS_IMAGE  Prometheus for compose projects [tiffin-prometheus:local]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import pytest

import docker
from tests.procs import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_IMAGE = "tiffin:local"
LOCAL_BASE = "tiffin-base:local"
LOCAL_PROMETHEUS = "tiffin-prometheus:local"
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.override.yml")  # what `docker compose up` reads
IRIS = [[5.9, 3.0, 5.1, 1.8]]
# The first test pays for the images: scripts/offline-images (66-108 s) and a cold build (93-160 s).
FIRST_BUILD_TIMEOUT = 900

T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(FIRST_BUILD_TIMEOUT))


# --- the engine ---------------------------------------------------------------------------------


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str, *, engine_exists: bool) -> NoReturn:
    """Fail where Docker is mandatory (CI) or where an engine exists but cannot be used; else skip."""
    if in_ci():
        pytest.fail(f"CI=true and Docker is unusable: {reason}", pytrace=False)
    if engine_exists:
        pytest.fail(f"a Docker engine is there but unusable: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine: {reason}")


def _no_engine(exc: Exception) -> bool:
    """Nothing listens where the client looks (no socket, connection refused), as opposed to an
    engine that refuses us (permissions) or answers wrongly."""
    text = str(exc)
    return any(s in text for s in ("FileNotFoundError", "No such file", "ConnectionRefused", "Connection refused"))


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        unavailable(str(exc), engine_exists=not _no_engine(exc))
    yield client
    client.close()


def compose_command() -> list[str]:
    """``docker compose`` (v2) when the plugin is there, else ``docker-compose`` (v1.29)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    unavailable("neither `docker compose` nor `docker-compose` is installed", engine_exists=True)


# --- the images ---------------------------------------------------------------------------------


def image_exists(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(scope="session")
def local_images(docker_client: Any) -> None:
    """tiffin-base:local, tiffin-prometheus:local and build/wheels, by scripts/offline-images.

    The script does nothing (0.1 s, no root) when the images exist and build/wheels matches
    locks/; it makes what is missing otherwise (the images need root and debootstrap).
    Nothing is pulled: a registry is never assumed.
    """
    wanted = [os.environ.get("TIFFIN_TEST_BASE_IMAGE") or LOCAL_BASE]
    wanted.append(os.environ.get("TIFFIN_TEST_PROMETHEUS_IMAGE") or LOCAL_PROMETHEUS)
    missing = [n for n in wanted if n in (LOCAL_BASE, LOCAL_PROMETHEUS) and not image_exists(docker_client, n)]
    argv = [str(ROOT / "scripts" / "offline-images")]
    if missing and os.geteuid() != 0:
        if not shutil.which("sudo"):
            pytest.fail(f"{', '.join(missing)} missing: scripts/offline-images needs root; no sudo", pytrace=False)
        argv = ["sudo", "-n", *argv]
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=FIRST_BUILD_TIMEOUT)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr[-4000:]}", pytrace=False)
    if missing:
        print(f"scripts/offline-images made {', '.join(missing)} in {time.monotonic() - started:.0f} s")


@pytest.fixture(scope="session")
def tiffin_image(docker_client: Any, local_images: None) -> str:
    """The tag of the image under test: tiffin:local built from the checkout on tiffin-base:local,
    unless TIFFIN_TEST_IMAGE names an image to test as it is."""
    given = os.environ.get("TIFFIN_TEST_IMAGE")
    if given:
        if not image_exists(docker_client, given):
            pytest.fail(f"TIFFIN_TEST_IMAGE={given} does not exist", pytrace=False)
        return given
    base = os.environ.get("TIFFIN_TEST_BASE_IMAGE") or LOCAL_BASE
    old = docker_client.images.get(DEFAULT_IMAGE).id if image_exists(docker_client, DEFAULT_IMAGE) else None
    try:
        image, _ = docker_client.images.build(
            path=str(ROOT), tag=DEFAULT_IMAGE, buildargs={"BASE_IMAGE": base}, rm=True, forcerm=True
        )
    except docker.errors.BuildError as exc:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
        pytest.fail(f"docker build failed: {exc.msg}\n{log[-4000:]}", pytrace=False)
    if old and old != image.id:  # the image this build replaced, unless something still uses it
        try:
            docker_client.images.remove(old)
        except docker.errors.APIError:
            pass
    return DEFAULT_IMAGE


@pytest.fixture(scope="session")
def prometheus_image(local_images: None) -> str:
    return os.environ.get("TIFFIN_TEST_PROMETHEUS_IMAGE") or LOCAL_PROMETHEUS


# --- waiting ------------------------------------------------------------------------------------


def eventually(probe: Callable[[], T | None], what: str, timeout: float, interval: float = 0.25) -> T:
    """Call ``probe`` until it returns something other than None. An AssertionError or a
    connection error from it means "not yet"; the last one is in the failure after ``timeout`` s."""

    def boxed() -> list[T] | None:  # a value like 0.0 or {} counts as found: only None means "not yet"
        value = probe()
        return None if value is None else [value]

    found = wait_until(
        boxed,
        message=what,
        timeout=timeout,
        interval=interval,
        ignore=(httpx.HTTPError, OSError, AssertionError),
    )
    return found[0]


def wait_http(url: str, status: int = 200, timeout: float = 120.0) -> httpx.Response:
    """Poll ``url`` until it answers ``status``; returns that response."""

    def probe() -> httpx.Response:
        response = httpx.get(url, timeout=2.0)
        assert response.status_code == status, response.status_code
        return response

    return eventually(probe, f"{url} answering {status}", timeout)


def exec_python(container: Any, code: str) -> str:
    """Run ``python3 -c code`` in ``container`` (the image's own python, no tools needed)."""
    result = container.exec_run(["python3", "-c", code])
    output = result.output.decode(errors="replace")
    assert result.exit_code == 0, f"{container.name}: python3 exited {result.exit_code}:\n{output}"
    return output


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` in Prometheus text whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


READ_METRICS = (
    "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics', timeout=5).read().decode())"
)


def container_metrics(container: Any, port: int) -> str:
    """The /metrics text of a tiffin server in ``container``, read from inside it."""
    return exec_python(container, READ_METRICS.format(port=port))


# --- docker-compose.yml -------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class Compose:
    """One project of the repository's compose files (``docker-compose.yml`` and the override
    that ``docker compose up`` reads with it), under a name of its own, with the image under test
    and the API and Prometheus published on free 127.0.0.1 ports."""

    def __init__(self, client: Any, image: str, prometheus_image: str) -> None:
        self.client = client
        self.project = unique("tiffintest")
        self.command = compose_command()
        self.api_port = free_port()
        self.prometheus_port = free_port()
        self.env = {
            **os.environ,
            "BASE_IMAGE": os.environ.get("TIFFIN_TEST_BASE_IMAGE") or LOCAL_BASE,
            "PROMETHEUS_IMAGE": prometheus_image,
            "TIFFIN_IMAGE": image,
            "TIFFIN_API_PORT": f"127.0.0.1:{self.api_port}",
            "TIFFIN_PROMETHEUS_PORT": f"127.0.0.1:{self.prometheus_port}",
        }

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    def run(
        self, *args: str, extra_files: Sequence[Path] = (), timeout: float = 300.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        files = [str(ROOT / name) for name in COMPOSE_FILES] + [str(path) for path in extra_files]
        argv = [*self.command, "-p", self.project, *(a for f in files for a in ("-f", f)), *args]
        result = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, *args: str, extra_files: Sequence[Path] = ()) -> None:
        """``up -d`` with no build (the images are all here: nothing is pulled); returns once the
        containers started, the API once a runner is healthy."""
        self.run("up", "-d", "--no-build", *args, extra_files=extra_files)

    def containers(self, service: str | None = None) -> list[Any]:
        """The project's running containers (of one service)."""
        labels = [f"com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        return self.client.containers.list(filters={"label": labels})

    def container(self, service: str) -> Any:
        (only,) = self.containers(service)
        return only

    def down(self) -> None:
        """``down -v --remove-orphans``, then make sure nothing of the project is left, anonymous
        volumes (Prometheus's /prometheus) included."""
        label = {"label": f"com.docker.compose.project={self.project}"}
        mounted = {
            m["Name"]
            for c in self.client.containers.list(all=True, filters=label)
            for m in c.attrs["Mounts"]
            if m["Type"] == "volume"
        }
        result = self.run("down", "-v", "--remove-orphans", "--timeout", "20", check=False)
        left = [c.name for c in self.client.containers.list(all=True, filters=label)]
        left += [n.name for n in self.client.networks.list(filters=label)]
        left += [v.name for v in self.client.volumes.list(filters=label)]
        left += sorted(mounted & {v.name for v in self.client.volumes.list()})
        if left or result.returncode != 0:
            raise AssertionError(f"compose down of {self.project} left {left}:\n{result.stderr}")

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail", "40", check=False).stdout


@pytest.fixture(scope="module")
def compose_project(docker_client: Any, tiffin_image: str, prometheus_image: str) -> Iterator[Compose]:
    """A compose project, brought down with its volumes at the end of the module."""
    project = Compose(docker_client, tiffin_image, prometheus_image)
    try:
        yield project
    finally:
        project.down()
