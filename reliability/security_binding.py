"""Where each listening socket of ``tiffin serve`` (and of a lone ``tiffin runner``) is bound.

The contract (SPEC, "Processes"; ``app.process.supervisor``): the API server listens on
``server.host:server.port``; the runner sidecars ``serve`` starts listen on 127.0.0.1 (or a Unix
socket in a private directory) whatever ``server.host`` says, since only the API workers call
them. ``tiffin runner`` alone is the container role and listens on 0.0.0.0 by design.

A ``server.host: 0.0.0.0`` run happens inside a private network namespace (``unshare -n``, only
its own loopback), so listening on every interface exposes nothing of this machine.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from bench import procs
from bench.server import Server
from reliability.report import Figure
from reliability.security_serve import serving
from reliability.security_sockets import Listener, listeners
from reliability.target import REPO, Run, default_config

SECTION = "security"
NETNS_PORT = 3000  # a private namespace has every port free: the documented defaults


def two_runners(**server: Any) -> dict[str, Any]:
    """The default service with a second runner, two workers per runner and ``workers: 2``."""
    config = default_config(workers=2, **server)
    base = config["runners"]["iris_clf"]
    config["runners"] = {
        "iris_clf": {**base, "workers": 2},
        "iris_named": {**base, "model": "iris_clf_with_feature_names:latest", "workers": 2},
    }
    config["apis"] = [*config["apis"], {**config["apis"][0], "name": "classify_named", "runner": "iris_named.predict"}]
    return config


def judge(name: str, found: list[Listener], api: tuple[str, int], runners: int, workers: int) -> Figure:
    """The API on ``api`` only, every other socket on loopback: one TCP port per runner, one Unix socket per worker."""
    api_sockets = [s for s in found if s.family != "unix" and s.port == api[1]]
    others = [s for s in found if s not in api_sockets]
    runner_tcp = [s for s in others if s.family != "unix"]
    problems = []
    if [s.host for s in api_sockets] != [api[0]]:
        problems.append(f"API expected on {api[0]}:{api[1]} only, found {[s.address for s in api_sockets]}")
    exposed = [s.describe() for s in others if not s.loopback]
    if exposed:
        problems.append(f"not on loopback: {', '.join(exposed)}")
    if len(runner_tcp) != runners:
        problems.append(f"expected {runners} runner TCP socket(s), found {len(runner_tcp)}")
    if any("runner" not in " ".join(s.holders) and "serve" not in " ".join(s.holders) for s in others):
        problems.append("a non-API socket held by neither serve nor a runner")
    unix = [s for s in others if s.family == "unix"]
    if len(unix) != workers:
        problems.append(f"expected {workers} runner Unix socket(s), one per worker, found {len(unix)}")
    private = all(_private_dir(Path(s.host)) for s in unix)
    if not private:
        problems.append("a runner's Unix socket lies in a directory others can enter")
    figure = (
        f"{len(found)} listening sockets: "
        + "; ".join(s.describe() for s in found)
        + (f"; Unix sockets in 0700 directories: {'yes' if private else 'NO'}" if unix else "")
    )
    return Figure(SECTION, f"bindings of {name}", figure, not problems, "; ".join(problems))


def _private_dir(path: Path) -> bool:
    try:
        return (path.parent.stat().st_mode & 0o077) == 0
    except OSError:
        return False


def settled(pid: int, tcp: int, unix: int, timeout: float, ready: Callable[[], bool] = lambda: True) -> list[Listener]:
    """The tree's listeners once ``tcp`` TCP and ``unix`` Unix sockets are up (later workers start after
    the first is ready), or what there is at ``timeout``."""
    deadline = time.monotonic() + timeout
    found: list[Listener] = []
    while time.monotonic() < deadline:
        found = listeners([info.pid for info in procs.process_tree(pid, procs.all_procs())])
        families = [s.family for s in found]
        if len(families) - families.count("unix") >= tcp and families.count("unix") >= unix and ready():
            return found
        time.sleep(0.2)
    return found


def _ready_in_namespace(pid: int) -> bool:
    """``GET /readyz`` on the namespace's loopback, from a process that joins it (``nsenter``)."""
    probe = (
        "import sys, urllib.request\n"
        "try:\n sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=1).status == 200 else 1)\n"
        "except Exception:\n sys.exit(1)\n"
    )
    url = f"http://127.0.0.1:{NETNS_PORT}/readyz"
    done = subprocess.run(
        ["nsenter", "-t", str(pid), "-n", "python3", "-c", probe, url], capture_output=True, check=False, timeout=10
    )
    return done.returncode == 0


@contextlib.contextmanager
def in_private_network(run: Run, name: str, argv: list[str]) -> Iterator[Server]:
    """``argv`` started in a new network namespace whose loopback is up; stopped with its tree."""
    script = 'ip link set lo up && exec "$@"'
    wrapped = ["unshare", "-n", "sh", "-c", script, "sh", *argv]
    server = Server(name, wrapped, env=run.env(), cwd=REPO, log_path=run.work / f"{name}.log", host="", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def namespaces_available() -> bool:
    if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
        return False
    done = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return done.returncode == 0


def more(run: Run) -> list[Figure]:
    """Two runners of two workers each, on 127.0.0.1 and on 0.0.0.0; a lone ``tiffin runner`` (full mode)."""
    figures = []
    if not run.short:  # the 0.0.0.0 run below has the same runners; short mode has it alone
        with serving(run, "security-bind-two", two_runners()) as target:
            found = settled(target.pid, 3, 4, 60.0)
            check = "2 runners x 2 workers, workers: 2 (server.host 127.0.0.1)"
            figures.append(judge(check, found, (target.host, target.port), 2, 4))
    if not namespaces_available():
        figures.append(Figure(SECTION, "bindings with server.host 0.0.0.0", "unshare -n is not available here", False))
        return figures
    figures.append(_all_interfaces(run))
    if not run.short:
        figures.append(_lone_runner(run))
    return figures


def _all_interfaces(run: Run) -> Figure:
    run.ensure_iris()
    path = run.work / "security-bind-any.yaml"
    path.write_text(yaml.safe_dump(two_runners(host="0.0.0.0", port=NETNS_PORT), sort_keys=False))  # noqa: S104
    argv = [str(Path(run.python).parent / "tiffin"), "serve", "--config", str(path)]
    check = "2 runners x 2 workers with server.host 0.0.0.0 (a private network namespace)"
    with in_private_network(run, "security-bind-any", argv) as server:
        assert server.proc is not None
        pid = server.proc.pid
        found = settled(pid, 3, 4, 90.0, lambda: _ready_in_namespace(pid))
        if not _ready_in_namespace(pid):
            return Figure(SECTION, f"bindings of {check}", "never ready", False, server.log_tail())
        return judge(check, found, ("0.0.0.0", NETNS_PORT), 2, 4)  # noqa: S104


def _lone_runner(run: Run) -> Figure:
    """``tiffin runner NAME --model TAG`` with no flags: 0.0.0.0:3001, the container role's default."""
    run.ensure_iris()
    argv = [str(Path(run.python).parent / "tiffin"), "runner", "iris_clf", "--model", "iris_clf:latest"]
    check = "bindings of `tiffin runner iris_clf --model iris_clf:latest` alone (the container role)"
    with in_private_network(run, "security-bind-runner", argv) as server:
        assert server.proc is not None
        deadline = time.monotonic() + 60
        found: list[Listener] = []
        while time.monotonic() < deadline and server.proc.poll() is None:
            found = listeners([i.pid for i in procs.process_tree(server.proc.pid, procs.all_procs())])
            if any(s.port == 3001 for s in found):
                break
            time.sleep(0.2)
        tcp = [s for s in found if s.family != "unix"]
        ok = [s.address for s in tcp] == ["0.0.0.0:3001"]
        figure = "; ".join(s.describe() for s in found) or "no listening socket"
        detail = "" if ok else f"expected 0.0.0.0:3001 only (the documented default); {server.log_tail()}"
        return Figure(SECTION, check, figure + " — 0.0.0.0 by design, as documented", ok, detail)
