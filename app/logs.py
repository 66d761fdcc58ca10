"""Logging for tiffin's processes, configured once at start (never at import)."""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def configure_logging(level: str = "INFO", *, access: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("tiffin.access").setLevel(logging.INFO if access else logging.WARNING)
    # uvicorn's own access log would repeat ours, without the route or the request id
    logging.getLogger("uvicorn.access").disabled = True
