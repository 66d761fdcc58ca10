"""This process's id, remembered: ``os.getpid`` is a system call, and hot paths ask for it.

prometheus-client asks on every metric update (to notice a fork) and logging on every record.
The id is read once and renewed in each forked child (``os.register_at_fork``, as the standard
library's ``random`` module reseeds itself), so it is always this process's own.
"""

from __future__ import annotations

import os

__all__ = ["current"]

_pid = os.getpid()


def _renew() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_renew)


def current() -> int:
    return _pid
