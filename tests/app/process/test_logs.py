"""Process logging: the fast line formatter writes what logging's own formatter writes."""

from __future__ import annotations

import logging
import sys

from app.process.logs import _FORMAT, LineFormatter


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



def test_records_carry_the_remembered_process_id_without_asking_the_kernel(monkeypatch) -> None:
    import os

    from app.process import pid
    from app.process.logs import configure_logging

    factory, processes = logging.getLogRecordFactory(), logging.logProcesses
    root_handlers, root_level = list(logging.getLogger().handlers), logging.getLogger().level
    access_level = logging.getLogger("tiffin.access").level
    try:
        configure_logging("INFO")
        monkeypatch.setattr(os, "getpid", lambda: (_ for _ in ()).throw(AssertionError("getpid called")))
        record = logging.getLogger("tiffin.access").makeRecord("tiffin.access", logging.INFO, "", 0, "x", None, None)
        assert record.process == pid.current()
    finally:
        logging.setLogRecordFactory(factory)
        logging.logProcesses = processes
        logging.getLogger().handlers[:] = root_handlers
        logging.getLogger().setLevel(root_level)
        logging.getLogger("tiffin.access").setLevel(access_level)
        logging.getLogger("uvicorn.access").disabled = False
