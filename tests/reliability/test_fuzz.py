"""``reliability.fuzz`` in short mode: a few thousand hostile bodies, every check must pass."""

from __future__ import annotations

import random

from reliability import fuzz
from reliability.fuzz_bodies import FAMILIES, Api, Context, hostile
from reliability.fuzz_client import Answer, Request
from reliability.report import failures
from reliability.target import Run


def test_fuzz_section_passes_in_short_mode(tmp_path):
    figures = fuzz.run(Run(tmp_path, short=True))
    for figure in failures(figures):
        print(f"FAILED {figure.check}: {figure.figure}\n  {figure.detail[:4000]}")
    assert figures and not failures(figures)


def test_the_bodies_are_seeded_and_every_family_is_drawn(tmp_path):
    ctx = Context(marker=tmp_path / "marker", max_request_size=1 << 20, cache={})
    api = Api("/iris", "iris")

    def draw(seed: str) -> list[Request]:
        rng = random.Random(seed)
        return [hostile(rng, api, ctx) for _ in range(3000)]

    first = draw("a")
    assert first == draw("a")
    assert first != draw("b")
    assert {r.tag for r in first} == set(FAMILIES)


def test_a_5xx_a_lost_answer_or_a_non_json_4xx_fails_the_tally():
    request = Request("/x", b"", tag="t")
    tally = fuzz.Tally()
    for status, body, failure in [(200, b"[1]", None), (400, b'{"error": "no"}', None), (500, b"", None),
                                  (400, b"Bad Request", None), (0, b"", "reset"), (0, b"", "timeout")]:
        tally.add(Answer(request, status, {}, body, failure, 0.0))
    assert tally.failures == {"5xx": 1, "non-json-4xx": 1, "reset": 1, "timeout": 1}
    assert tally.sent == 6
