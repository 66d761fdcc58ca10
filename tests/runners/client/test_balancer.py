import asyncio

import pytest

from runners.client.balancer import Balancer, parse_targets
from runners.errors import RunnerUnavailable
from tests.waiting import wait_until_async


def test_parse_targets() -> None:
    targets = parse_targets(" http://runner:3001, 10.0.0.2:3002/base/ ,https://secure.example")
    assert [(t.scheme, t.host, t.port, t.path) for t in targets] == [
        ("http", "runner", 3001, ""),
        ("http", "10.0.0.2", 3002, "/base"),
        ("https", "secure.example", 443, ""),
    ]
    assert [t.needs_resolving for t in targets] == [True, False, False]
    for bad in ("", " , ", "ftp://x:1", "http+unix://"):
        with pytest.raises(ValueError):
            parse_targets(bad)


def test_a_unix_socket_url_is_one_replica_never_resolved() -> None:
    async def dns(host: str, port: int) -> list[str]:
        raise AssertionError("a socket path is not looked up")

    balancer = Balancer("http+unix://%2Ftmp%2FRunner.sock, http+unix://%2Fr%2Fb.sock/prefix/", resolver=dns)
    asyncio.run(balancer.ensure_fresh())
    assert [(e.url, e.host) for e in balancer.replicas] == [
        ("http+unix://%2Ftmp%2FRunner.sock", None),  # the path's case is kept
        ("http+unix://%2Fr%2Fb.sock/prefix", None),
    ]


class Dns:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        if host not in self.answers:
            raise OSError("no such host")
        return list(self.answers[host])


def test_a_name_expands_to_every_address_and_is_re_resolved() -> None:
    dns = Dns({"runner": ["10.0.0.1", "10.0.0.2", "fd00::3"]})
    balancer = Balancer("http://runner:3001,http://127.0.0.1:3009", resolve_interval=0.05, resolver=dns)

    async def main() -> None:
        await balancer.ensure_fresh()
        assert [(e.url, e.host) for e in balancer.replicas] == [
            ("http://10.0.0.1:3001", "runner:3001"),
            ("http://10.0.0.2:3001", "runner:3001"),
            ("http://[fd00::3]:3001", "runner:3001"),
            ("http://127.0.0.1:3009", None),
        ]
        kept = balancer.replicas[1]
        kept.inflight = 5
        dns.answers["runner"] = ["10.0.0.2", "10.0.0.4"]  # one replica went away, one came
        await asyncio.sleep(0.06)  # the resolve interval passes
        await balancer.ensure_fresh()  # starts a background refresh; this call is not delayed
        assert dns.lookups == 1
        await wait_until_async(lambda: dns.lookups == 2, message="the background refresh looking the name up")
        urls = [e.url for e in balancer.replicas]
        assert urls == ["http://10.0.0.2:3001", "http://10.0.0.4:3001", "http://127.0.0.1:3009"]
        assert balancer.replicas[0] is kept and kept.inflight == 5

        del dns.answers["runner"]  # resolution fails: keep the last good answer
        await balancer.refresh()
        assert len(balancer.replicas) == 3

    asyncio.run(main())


def test_nothing_resolvable_is_unavailable() -> None:
    balancer = Balancer("http://nowhere:3001", resolver=Dns({}))
    with pytest.raises(RunnerUnavailable):
        asyncio.run(balancer.ensure_fresh())


def test_pick_least_outstanding_and_skip_ejected_replicas() -> None:
    balancer = Balancer("http://10.0.0.1:1,http://10.0.0.2:1,http://10.0.0.3:1", eject_seconds=60)
    asyncio.run(balancer.ensure_fresh())
    a, b, c = balancer.replicas
    a.inflight, b.inflight, c.inflight = 3, 1, 2
    assert balancer.pick(set()) is b
    assert balancer.pick({b}) is c
    balancer.failed(b)
    assert balancer.pick(set()) is c
    picks = set()
    c.inflight = a.inflight = 0
    for _ in range(10):
        picks.add(balancer.pick(set()))
    assert picks == {a, c}  # ties are taken in turn
    balancer.failed(a)
    balancer.failed(c)
    assert balancer.pick(set()) is b  # all ejected: the one that failed longest ago is tried again
    balancer.succeeded(c)
    assert balancer.pick(set()) is c
    assert balancer.pick({a, b, c}) is None
