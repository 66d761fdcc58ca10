from bench import procs

STAT = (
    "4321 (python3 (gunicorn) x) S 4300 4300 4300 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 "
    "123456 200000000 5000 18446744073709551615 0 0 0 0 0 0 0 16781312 16386 0 0 0 17 1 0 0 0 0 0"
)


def test_parse_stat_handles_spaces_and_parentheses_in_the_name() -> None:
    info = procs.parse_stat(STAT)
    assert (info.pid, info.ppid, info.pgid, info.state) == (4321, 4300, 4300, "S")
    assert info.start_ticks == 123456
    assert info.rss_bytes == 5000 * procs.PAGE_SIZE
    assert info.cpu_ticks == 300


def make(pid: int, ppid: int, pgid: int, state: str = "S") -> procs.ProcInfo:
    return procs.ProcInfo(pid=pid, ppid=ppid, pgid=pgid, state=state, start_ticks=pid, rss_bytes=pid, cpu_ticks=0)


def test_process_tree_follows_group_and_descendants() -> None:
    table = [
        make(10, 1, 10),  # root
        make(11, 10, 10),  # worker
        make(12, 10, 12),  # child in its own session
        make(13, 12, 12),  # its child
        make(14, 10, 10, state="Z"),  # zombie
        make(20, 1, 20),  # unrelated
    ]
    assert sorted(p.pid for p in procs.process_tree(10, table)) == [10, 11, 12, 13]


def test_listeners_match_port_and_state() -> None:
    lines = [
        "0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 111 1",
        "1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000 0 0 222 1",
        "2: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 333 1",
    ]
    assert procs.parse_listeners(lines, 8080) == {"111"}


def test_workers_are_holders_without_holding_children() -> None:
    master, worker_a, worker_b = make(10, 1, 10), make(11, 10, 10), make(12, 10, 10)
    assert [p.pid for p in procs.leaves([master, worker_a, worker_b])] == [11, 12]
    assert [p.pid for p in procs.leaves([master])] == [10]


def test_busy_seconds_skips_idle_and_iowait() -> None:
    text = "cpu  100 10 50 9000 40 5 5 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    assert procs.busy_seconds(text) == 170 / procs.CLOCK_TICKS


def test_free_port_leaves_the_next_port_free_too() -> None:
    import socket

    from bench.server import free_port

    port = free_port()
    for candidate in (port, port + 1):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", candidate))
