"""``worker_share``: the CPU share each of a runner's workers gets, and the variables that cap its pools."""

from __future__ import annotations

from runners.resources import THREAD_VARIABLES, thread_variables, worker_share


def test_workers_split_the_cpus_in_whole_threads_and_get_at_least_one() -> None:
    assert worker_share(2, cpus=8).threads == 4
    assert worker_share(3, cpus=8).threads == 2  # 3 × 2 fits 8
    assert worker_share(1, cpus=2).threads == 2
    assert worker_share(4, cpus=2).threads == 1  # more workers than CPUs: one thread each


def test_the_variables_name_every_pool() -> None:
    assert thread_variables(3) == dict.fromkeys(THREAD_VARIABLES, "3")
