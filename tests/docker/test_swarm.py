"""``docker-compose.yml`` deployed as it is to a swarm: ``docker stack deploy``, two replicas of
the API server and of the runner, on a single-node swarm the test makes (and leaves again) when
the engine is in none.

The API is called from inside the stack's overlay network, at each replica's own address
(``tasks.api``): swarm publishes ports through its ingress routing mesh on every interface
(ignoring the 127.0.0.1 of TIFFIN_API_PORT, with a warning), which needs IPVS in the kernel,
so the published port is neither what we want to call nor there on every machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import docker
from tests.docker.conftest import (
    LOCAL_BASE,
    ROOT,
    container_metrics,
    eventually,
    exec_python,
    metric_sum,
    unavailable,
    unique,
)
from tests.procs import free_port

REPLICAS = {"api": 2, "runner": 2}
# Run in a runner container: /classify at every API replica, by address.
CALL_EVERY_API = """
import json, socket, urllib.request
addresses = sorted({info[4][0] for info in socket.getaddrinfo("tasks.api", 3000, type=socket.SOCK_STREAM)})
answers = {}
for address in addresses:
    for _ in range(10):
        request = urllib.request.Request(
            f"http://{address}:3000/classify", data=b"[[5.9, 3.0, 5.1, 1.8]]",
            headers={"content-type": "application/json"})
        answers.setdefault(address, []).append(json.load(urllib.request.urlopen(request, timeout=10)))
print(json.dumps(answers))
"""


@pytest.fixture
def swarm(docker_client: Any) -> Iterator[None]:
    """A swarm this engine manages: the one it is in, or a single-node one made here, listening on
    127.0.0.1 only, and left again afterwards (with the docker_gwbridge network it brings)."""
    # One swarm test at a time on this engine, whichever checkout runs it.
    with open(Path(tempfile.gettempdir()) / "tiffin-test-swarm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = docker_client.info()["Swarm"]
        made = False
        had_gwbridge = any(n.name == "docker_gwbridge" for n in docker_client.networks.list())
        if state.get("LocalNodeState") == "inactive":
            try:
                docker_client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
            except docker.errors.APIError as exc:
                pytest.skip(f"no single-node swarm on this engine: {exc.explanation or exc}")
            made = True
        elif state.get("LocalNodeState") != "active" or not state.get("ControlAvailable"):
            pytest.skip(
                f"this engine's swarm state is {state.get('LocalNodeState')!r} "
                f"(manager: {bool(state.get('ControlAvailable'))}); a stack deploys from an active manager"
            )
        try:
            yield
        finally:
            if made:
                docker_client.swarm.leave(force=True)
                if not had_gwbridge:
                    for network in docker_client.networks.list(names=["docker_gwbridge"]):
                        if network.name == "docker_gwbridge":
                            network.remove()


class Stack:
    def __init__(self, client: Any, image: str, prometheus_image: str) -> None:
        self.client = client
        self.name = unique("tiffinswarm")
        self.label = f"com.docker.stack.namespace={self.name}"
        self.env = {
            **os.environ,
            "BASE_IMAGE": os.environ.get("TIFFIN_TEST_BASE_IMAGE") or LOCAL_BASE,
            "PROMETHEUS_IMAGE": prometheus_image,
            "TIFFIN_IMAGE": image,
            "TIFFIN_API_PORT": f"127.0.0.1:{free_port()}",
            "TIFFIN_PROMETHEUS_PORT": f"127.0.0.1:{free_port()}",
        }
        self.volumes: set[str] = set()

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = ["docker", *args]
        result = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def service(self, name: str) -> Any:
        (service,) = self.client.services.list(filters={"name": f"{self.name}_{name}"})
        return service

    def scale(self, name: str, replicas: int) -> None:
        """Scale, reading the service's version again when swarm was updating it meanwhile."""
        for attempt in range(10):
            try:
                self.service(name).scale(replicas)
                return
            except docker.errors.APIError as exc:
                if "out of sequence" not in str(exc) or attempt == 9:
                    raise
                time.sleep(0.5)

    def containers(self, name: str) -> list[Any]:
        found = self.client.containers.list(filters={"label": f"com.docker.swarm.service.name={self.name}_{name}"})
        for container in found:  # anonymous volumes (Prometheus's /prometheus) to remove at the end
            self.volumes |= {m["Name"] for m in container.attrs["Mounts"] if m["Type"] == "volume"}
        return found

    def running(self, name: str, replicas: int) -> bool | None:
        tasks = self.service(name).tasks(filters={"desired-state": "running"})
        states = [t["Status"]["State"] for t in tasks]
        assert "failed" not in states and "rejected" not in states, [t["Status"] for t in tasks]
        return True if states.count("running") == replicas else None

    def remove(self) -> None:
        """``docker stack rm``, then wait until its containers and networks are gone (swarm removes
        them in the background) and remove the volumes they used."""
        for service in ("api", "runner", "prometheus"):
            self.containers(service)
        self.docker("stack", "rm", self.name)
        listed = {"label": self.label}

        def gone() -> bool | None:
            left = self.client.containers.list(all=True, filters=listed) + self.client.networks.list(filters=listed)
            return None if left else True

        eventually(gone, f"stack {self.name} removed", timeout=90, interval=0.5)
        for name in self.volumes:
            try:
                self.client.volumes.get(name).remove()
            except docker.errors.NotFound:
                pass


@pytest.fixture
def stack(swarm: None, docker_client: Any, tiffin_image: str, prometheus_image: str) -> Iterator[Stack]:
    if not shutil.which("docker"):
        unavailable("the docker command (for `docker stack deploy`) is not installed", engine_exists=True)
    stack = Stack(docker_client, tiffin_image, prometheus_image)
    try:
        # --resolve-image never: the image is local, no registry is asked for a digest.
        stack.docker("stack", "deploy", "--resolve-image", "never", "-c", "docker-compose.yml", stack.name)
        yield stack
    finally:
        stack.remove()


def test_the_compose_file_deploys_as_a_stack_with_replicas(stack: Stack) -> None:
    for name, replicas in REPLICAS.items():
        stack.scale(name, replicas)
    began = time.monotonic()
    for name, replicas in {**REPLICAS, "prometheus": 1}.items():
        # A task with a HEALTHCHECK counts as running once it is healthy.
        eventually(
            lambda name=name, replicas=replicas: stack.running(name, replicas),
            f"{replicas} healthy {name} tasks",
            timeout=180,
            interval=1,
        )
    print(f"stack {stack.name}: every replica healthy after {time.monotonic() - began:.0f} s")

    runners = stack.containers("runner")
    assert len(runners) == REPLICAS["runner"]

    def every_replica_serves() -> dict[str, float]:
        answers = json.loads(exec_python(runners[0], CALL_EVERY_API))
        assert len(answers) == REPLICAS["api"], f"API replicas that answered: {answers}"
        assert all(a == [[2]] * 10 for a in answers.values()), answers
        counts = {r.name: metric_sum(container_metrics(r, 3001), "tiffin_runner_requests_total") for r in runners}
        assert all(counts.values()), f"requests per runner: {counts}"
        return counts

    eventually(every_replica_serves, "every API replica answering, through every runner", timeout=60, interval=0)
