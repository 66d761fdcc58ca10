from pathlib import Path

from reliability import soak
from reliability.soak_figures import Observed, fds, lost, rss
from reliability.soak_load import Tally
from reliability.soak_metrics import Counts, parse
from reliability.soak_procs import MB, ProcSample, fit
from reliability.target import Run


def test_the_short_soak_passes_every_check(tmp_path: Path) -> None:
    figures = soak.run(Run(tmp_path, short=True))
    failed = [f for f in figures if not f.passed]
    assert not failed, "\n".join(f"{f.check}: {f.figure} {f.detail}" for f in failed)
    assert any("RSS of the API worker" in f.check for f in figures)
    assert any("descriptors of the runner" in f.check for f in figures)


def test_the_fit_finds_a_slope_and_none_in_a_flat_line() -> None:
    assert fit([0, 1, 2, 3], [5, 7, 9, 11]).slope == 2
    flat = fit([0, 1, 2, 3], [4, 4, 4, 4])
    assert (flat.slope, flat.stderr) == (0, 0)


def test_the_metrics_count_only_post_classify() -> None:
    text = "\n".join(
        [
            "# TYPE tiffin_http_requests counter",
            'tiffin_http_requests_total{endpoint="/classify",method="POST",service="s",status="200"} 7.0',
            'tiffin_http_requests_total{endpoint="/classify",method="POST",service="s",status="503"} 2.0',
            'tiffin_http_requests_total{endpoint="/metrics",method="GET",service="s",status="200"} 5.0',
            "# TYPE tiffin_http_requests_in_progress gauge",
            'tiffin_http_requests_in_progress{endpoint="/classify",method="POST",service="s"} 1.0',
        ]
    )
    counts = parse(text + "\n")
    assert counts.by_status == {"200": 7, "503": 2}
    assert (counts.total, counts.in_progress) == (9, 1)


def _observed(samples: list[tuple[int, dict[int, ProcSample]]]) -> Observed:
    return Observed(
        requests=100,
        cap_s=60,
        rss_bound_mb=2.0,
        connections=16,
        timeout_s=10,
        roles={1: "API worker 1"},
        load_start=0.0,
        samples=samples,
    )


def _proc(rss_mb: float, fds: int = 20, keepalive: int = 1) -> ProcSample:
    return ProcSample(1, "API worker 1", int(rss_mb * MB), fds, 0, keepalive)


def test_a_growing_rss_fails_and_a_flat_one_passes() -> None:
    growing = _observed([(n * 10_000, {1: _proc(50 + n)}) for n in range(5)])
    assert not rss(growing, 1, "API worker 1").passed
    flat = _observed([(n * 10_000, {1: _proc(50)}) for n in range(5)])
    assert rss(flat, 1, "API worker 1").passed


def test_one_more_steady_descriptor_fails_and_more_keepalive_does_not() -> None:
    leak = _observed([(0, {1: _proc(50, 20)}), (10, {1: _proc(50, 21)})])
    assert not fds(leak, 1, "API worker 1").passed
    pool = _observed([(0, {1: _proc(50, 20, 1)}), (10, {1: _proc(50, 23, 4)})])
    assert fds(pool, 1, "API worker 1").passed


def test_a_request_the_server_did_not_count_is_lost() -> None:
    seen = _observed([])
    seen.tally = Tally(runs=1, sent=100, answered=95)
    seen.counts = (Counts({"200": 10}, 10, 0), Counts({"200": 109}, 109, 0))
    assert not lost(seen).passed
    seen.counts = (Counts({"200": 10}, 10, 0), Counts({"200": 110}, 110, 0))
    assert lost(seen).passed
