"""The API server's metrics: multiprocess values identified by the remembered process id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess


def test_cached_process_ids_are_renewed_in_forked_children(tmp_path: Path) -> None:
    script = f"""
import os
os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
from app.process import pid
from app.server.http_metrics import cache_process_id
cache_process_id()
from prometheus_client import CollectorRegistry, Counter
counter = Counter("hits", "hits", registry=CollectorRegistry())
counter.inc()
child = os.fork()
if child == 0:
    assert pid.current() == os.getpid()
    counter.inc(2)
    os._exit(0)
os.waitpid(child, 0)
print(os.getpid(), child)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    parent, child = result.stdout.split()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"counter_{parent}.db", f"counter_{child}.db"])
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    assert b"hits_total 3.0" in generate_latest(registry)


def test_multiprocess_values_ask_app_process_pid_for_the_process_id(tmp_path: Path) -> None:
    """cache_process_id swaps prometheus_client.values.ValueClass, which is not public API (hence
    the bound on prometheus-client in pyproject.toml): an upgrade that changes how metrics pick
    their value class, or MultiProcessValue's ``process_identifier``, fails here."""
    script = f"""
import os
os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
from app.process import pid
from app.server.http_metrics import cache_process_id
cache_process_id()
pid._pid = 424242  # what the values must now ask for, instead of os.getpid()
from prometheus_client import CollectorRegistry, Counter
Counter("hits", "hits", registry=CollectorRegistry()).inc()
"""
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert [p.name for p in tmp_path.iterdir()] == ["counter_424242.db"]
