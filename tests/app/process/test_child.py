"""``Child`` and ``Supervisor`` with small real processes: exits described, stderr kept, giving up."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from app.process.child import Child, describe_exit, probe_ready
from app.process.runner_pool import RunnerPool, socket_paths
from app.process.supervisor import GaveUp, Supervisor


def test_exits_are_described_for_people() -> None:
    assert describe_exit(None) == "running"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"


def test_a_captured_child_keeps_its_last_lines_of_stderr() -> None:
    child = Child("t", [sys.executable, "-c", "import sys; print('one', file=sys.stderr); sys.exit('boom')"], {},
                  capture=True)  # fmt: skip
    child.start()
    assert child.wait(grace=60) == 1
    assert child.last_error() == "exited with code 1; its last output:\n    one\n    boom"


def test_no_server_on_a_socket_is_not_ready(tmp_path: Path) -> None:
    assert not probe_ready(str(tmp_path / "none.sock"))


def test_socket_paths_for_one_or_several_workers(tmp_path: Path) -> None:
    base = str(tmp_path / "m.sock")
    assert socket_paths(base, 1) == [base]
    assert socket_paths(base, 2) == [str(tmp_path / "m-0.sock"), str(tmp_path / "m-1.sock")]
    assert socket_paths(str(tmp_path / ("d" * 120) / "m.sock"), 2) == [None, None]


def pool_of(tmp_path: Path, code: str) -> RunnerPool:
    """A pool whose 'worker' runs ``code`` in place of a sidecar (the supervisor only sees processes)."""
    pool = RunnerPool("fake", [sys.executable, "-c", code], {}, host="127.0.0.1", port=0, uds=str(tmp_path / "f.sock"))
    for child in pool.open():
        child.argv = [sys.executable, "-c", code]
    return pool


def test_a_worker_that_cannot_load_its_model_stops_the_supervisor_at_once(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, "import sys; print('no such model', file=sys.stderr); sys.exit(3)")
    supervisor = Supervisor([pool])
    with pytest.raises(GaveUp, match="(?s)its model did not load.*no such model"):
        while True:
            supervisor._tick(float("inf"))
    pool.close()


def test_a_worker_that_keeps_dying_before_ready_is_given_up_after_some_tries(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    supervisor = Supervisor([pool], max_start_failures=3)
    (child,) = pool.children
    child.start()
    starts = {child.pid}
    with pytest.raises(GaveUp, match="(?s)died 3 times in a row before it was ready.*killed by SIGKILL"):
        while True:
            child.wait(grace=60)
            supervisor._tick(float("inf"))  # dead: schedules the restart
            supervisor._tick(float("inf"))  # due at once: starts it again
            starts.add(child.pid)
    assert len(starts) == 3
    pool.close()
