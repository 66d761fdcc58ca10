"""runners.hardware: a process's CPU share (affinity and cgroup quota) and device names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runners import hardware


def test_the_cpu_share_is_the_affinity_mask_capped_by_the_cgroup_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hardware, "_CGROUP", tmp_path)
    allowed = len(os.sched_getaffinity(0))
    assert hardware.cpu_share() == allowed  # no cgroup files: the affinity mask

    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert hardware.cpu_share() == allowed
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU: still one thread
    assert hardware.cpu_share() == 1
    (tmp_path / "cpu.max").write_text("6400000 100000\n")  # a quota above the mask: the mask
    assert hardware.cpu_share() == allowed

    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert hardware.cpu_share() == 1  # cgroup v1


def test_threads_default_to_the_cpu_share() -> None:
    assert hardware.threads_for(None) == hardware.cpu_share()
    assert hardware.threads_for(3) == 3
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="threads"):
            hardware.threads_for(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:0", "cuda:12"])
def test_devices(device: str) -> None:
    assert hardware.check_device(device) == device


@pytest.mark.parametrize("device", ["", "gpu", "CUDA", "cuda:", "cuda:x", "mps", "cpu:0"])
def test_bad_devices(device: str) -> None:
    with pytest.raises(ValueError, match="device must be"):
        hardware.check_device(device)
