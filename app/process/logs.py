"""Logging for tiffin's processes, configured once at start (never at import)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from app.process import pid

_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


class LineFormatter(logging.Formatter):
    """``_FORMAT``, built with one f-string for plain records, the date part made once a second.

    The access log writes a record per request; ``logging.Formatter`` spends a few microseconds
    on each (``localtime``, ``strftime``, ``%``-formatting a dict). Records with arguments, an
    exception or a stack go through the standard path and come out the same.
    """

    def __init__(self) -> None:
        super().__init__(_FORMAT)
        self._second = -1
        self._date = ""

    def format(self, record: logging.LogRecord) -> str:
        if record.args or record.exc_info or record.exc_text or record.stack_info or not isinstance(record.msg, str):
            return super().format(record)
        record.message = record.msg
        second = int(record.created)
        if second != self._second:
            self._second, self._date = second, time.strftime(self.default_time_format, self.converter(second))
        return f"{self._date},{int(record.msecs):03d} {record.levelname} [{record.process}] {record.name}: {record.msg}"


def _record_with_pid(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.process = pid.current()
    return record


_base_factory = logging.getLogRecordFactory()


def configure_logging(level: str = "INFO", *, access: bool = True) -> None:
    # Every record carries the process id (the access log writes one per request): the
    # remembered one, rather than a getpid system call per record.
    if logging.getLogRecordFactory() is not _record_with_pid:
        logging.logProcesses = False
        logging.setLogRecordFactory(_record_with_pid)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("tiffin.access").setLevel(logging.INFO if access else logging.WARNING)
    # uvicorn's own access log would repeat ours, without the route or the request id
    logging.getLogger("uvicorn.access").disabled = True
