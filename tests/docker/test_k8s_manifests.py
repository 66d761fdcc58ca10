"""``config/k8s``: what a cluster needs from the manifests, checked without a cluster (or Docker).

A Deployment and a Service for the API server and for the runner, wired to each other and to
the image: probes on the health endpoints, Prometheus annotations, a non-root user (the image's
own uid), and the API's runner URL naming the runner Service.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "config" / "k8s"
PORTS = {"api": 3000, "runner": 3001}  # the defaults of `tiffin api` and `tiffin runner`


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def workloads() -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, component) -> the object, for every Deployment and Service."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for _, doc in documents():
        if doc["kind"] == "Kustomization":
            continue
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        assert (doc["kind"], component) not in found, f"two {doc['kind']}s for {component}"
        found[(doc["kind"], component)] = doc
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def port_number(spec: dict[str, Any], port: int | str) -> int:
    """A container port given by number or by name."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in spec.get("ports", []) if p.get("name") == port]
    return int(number)


def test_the_kustomization_lists_every_manifest() -> None:
    (kustomization,) = [doc for _, doc in documents() if doc["kind"] == "Kustomization"]
    others = {name for name, doc in documents() if doc["kind"] != "Kustomization"}
    assert sorted(kustomization["resources"]) == sorted(others)


def test_a_deployment_and_a_service_for_api_and_runner() -> None:
    assert set(workloads()) == {(kind, c) for kind in ("Deployment", "Service") for c in ("api", "runner")}


@pytest.mark.parametrize("component", ["api", "runner"])
def test_probes_ports_and_prometheus_annotations(component: str) -> None:
    objects = workloads()
    deployment, service = objects[("Deployment", component)], objects[("Service", component)]
    template = deployment["spec"]["template"]
    spec = container(deployment)
    port = PORTS[component]

    assert [p["containerPort"] for p in spec["ports"]] == [port]
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        http = spec[probe]["httpGet"]
        assert (http["path"], port_number(spec, http["port"])) == (path, port), probe
    if "startupProbe" in spec:
        assert spec["startupProbe"]["httpGet"]["path"] == "/livez"

    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port
    assert annotations.get("prometheus.io/path", "/metrics") == "/metrics"

    # The Service selects these pods, on the container's port.
    labels = template["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert [port_number(spec, p.get("targetPort", p["port"])) for p in service["spec"]["ports"]] == [port]


@pytest.mark.parametrize("component", ["api", "runner"])
def test_pods_run_as_the_images_non_root_user(component: str) -> None:
    deployment = workloads()[("Deployment", component)]
    pod = deployment["spec"]["template"]["spec"]
    spec = container(deployment)
    context = {**pod.get("securityContext", {}), **spec.get("securityContext", {})}
    assert context["runAsNonRoot"] is True
    assert context.get("runAsUser", 1) != 0
    assert context["allowPrivilegeEscalation"] is False
    assert "ALL" in context["capabilities"]["drop"]

    user = re.search(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert user, "the Dockerfile sets no USER"
    uid, _, gid = user.group(1).partition(":")
    assert str(context["runAsUser"]) == uid and (not gid or str(context["runAsGroup"]) == gid)

    # A read-only root file system needs a writable /tmp (gunicorn, prometheus-client).
    if context.get("readOnlyRootFilesystem"):
        assert "/tmp" in {m["mountPath"] for m in spec.get("volumeMounts", [])}


def test_the_api_reaches_the_runner_through_the_runner_service() -> None:
    objects = workloads()
    runner_args = container(objects[("Deployment", "runner")])["args"]
    name = runner_args[runner_args.index("runner") + 1]
    variable = "TIFFIN_RUNNER_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_URL"

    env = {e["name"]: e.get("value") for e in container(objects[("Deployment", "api")]).get("env", [])}
    assert variable in env, f"the API has no {variable}"
    url = urlsplit(env[variable])
    service = objects[("Service", "runner")]
    assert url.hostname == service["metadata"]["name"]
    assert url.port in [p["port"] for p in service["spec"]["ports"]]
    # Headless: the client resolves every ready runner pod and balances over them itself.
    assert service["spec"].get("clusterIP") == "None"
