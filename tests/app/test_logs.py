"""Process logging: the fast line formatter writes what logging's own formatter writes."""

from __future__ import annotations

import logging
import sys

from app.logs import _FORMAT, LineFormatter


def records() -> list[logging.LogRecord]:
    plain = logging.LogRecord("tiffin.access", logging.INFO, __file__, 1, '{"status":200}', None, None)
    with_args = logging.LogRecord("tiffin.serve", logging.WARNING, __file__, 2, "%s did %d", ("x", 3), None)
    try:
        raise ValueError("boom")
    except ValueError:
        failing = logging.LogRecord("tiffin.error", logging.ERROR, __file__, 3, "failed", None, sys.exc_info())
    return [plain, with_args, failing]


def test_the_line_formatter_matches_the_standard_one() -> None:
    standard, fast = logging.Formatter(_FORMAT), LineFormatter()
    for record in records():
        assert fast.format(record) == standard.format(record)
    later = records()[0]
    later.created += 2.5  # another second: the date part is made again
    later.msecs = (later.created - int(later.created)) * 1000
    assert fast.format(later) == standard.format(later)

