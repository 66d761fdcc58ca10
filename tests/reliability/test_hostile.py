"""The hostile section in short mode: every attack gets its 4xx or close on time, the probe loses nothing."""

from __future__ import annotations

from pathlib import Path

from reliability import hostile
from reliability.hostile_clients import Outcome
from reliability.report import failures, table
from reliability.target import Run


def test_hostile_clients_short(tmp_path: Path) -> None:
    figures = hostile.run(Run(tmp_path, short=True))
    print(table(figures))
    assert len(figures) == len(hostile.attacks(hostile.SHORT, short=True)) + 3
    assert not failures(figures), table(failures(figures))


def test_an_attack_is_judged_by_status_time_and_hang() -> None:
    slowloris = hostile.attacks(hostile.SHORT, short=True)[0]
    assert slowloris.judge(Outcome(408, 2.0, 2.1, 100)) is None
    assert slowloris.judge(Outcome(408, 2.0, 9.0, 100)) == "after 9.00 s, not near header_timeout 2 s"
    assert slowloris.judge(Outcome(400, 2.0, 2.1, 100)) == "got 400 instead of 408"
    assert slowloris.judge(Outcome(408, 2.0, 1.6, 100), crowded=True) is None  # our loop read late
    assert slowloris.judge(Outcome(400, 2.0, 2.1, 100), crowded=True) == "got 400 instead of 408"
    assert slowloris.judge(Outcome(None, None, None, 100)) == "still open at give-up (a hang)"
    assert slowloris.judge(Outcome(None, None, 0.1, 0, "ConnectionResetError")) == "ConnectionResetError"
    huge = next(a for a in hostile.attacks(hostile.SHORT, short=True) if a.status == 413 and "2 GB" in a.check)
    assert huge.judge(Outcome(413, 0.1, 0.5, 10)) is None
    assert huge.judge(Outcome(413, 5.0, 5.5, 10)) == "answered after 5.00 s, not at once"
