"""Peers: other serving frameworks run under the same load, each from a virtualenv of its own.

``scripts/bench --peers bentoml`` adds BentoML 1.4's class-style service with ``batchable=True``
(``bench/servers/bentoml_service.py``). BentoML is installed with pip into
``bench/.cache/venv-bentoml/`` on first use, together with the same scikit-learn, skops and numpy
versions as the project's environment so that both load the same stored model; it never enters
the project's own virtualenv. The cache survives between invocations (``bench/.work`` does not).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache"


@dataclass(frozen=True)
class Peer:
    name: str
    requirement: str  # what pip installs, beside the shared model libraries
    probe: str  # an import that proves the virtualenv is complete

    @property
    def venv(self) -> Path:
        return CACHE / f"venv-{self.name}"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


PEERS = {"bentoml": Peer("bentoml", "bentoml>=1.4,<1.5", "import bentoml, sklearn, skops")}
SHARED = ("scikit-learn", "skops", "numpy")  # pinned to the project's versions: one stored model for all


def pins() -> list[str]:
    found = []
    for name in SHARED:
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(name)
    return found


def ensure(peer: Peer, log: object = print) -> Path:
    """The peer's bin directory, installing it first when it is missing or incomplete."""
    python = peer.bin / "python"
    if python.exists() and _works(python, peer.probe):
        return peer.bin
    CACHE.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(peer.venv)], check=True)
    packages = [peer.requirement, *pins()]
    if callable(log):
        log(f"bench: installing {' '.join(packages)} into {peer.venv} (once)")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages], check=True
    )
    if not _works(python, peer.probe):
        raise RuntimeError(f"{peer.venv}: {peer.probe!r} still fails after installing")
    return peer.bin


def _works(python: Path, probe: str) -> bool:
    done = subprocess.run([str(python), "-c", probe], capture_output=True, timeout=300, check=False)
    return done.returncode == 0
