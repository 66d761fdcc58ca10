"""Byte sizes written the way people write them: ``20MiB``, ``1GB``, ``512KiB``, ``100k``.

Units are case-insensitive. Decimal units count in powers of 1000 (``k``, ``KB``, ``M``, ``MB``,
``G``, ``GB``, ``T``, ``TB``), binary units in powers of 1024 (``Ki``, ``KiB``, ``Mi``, ``MiB``,
...), as in Kubernetes quantities. No unit, or ``B``, means bytes. A fractional number is
allowed (``1.5GiB``); the result is rounded down to whole bytes.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["KiB", "MiB", "GiB", "parse_size", "format_size"]

KiB = 1024
MiB = 1024**2
GiB = 1024**3

_PREFIXES = "kmgtp"
_UNITS: dict[str, int] = {"": 1, "b": 1}
for _power, _prefix in enumerate(_PREFIXES, start=1):
    _UNITS[_prefix] = _UNITS[_prefix + "b"] = 1000**_power
    _UNITS[_prefix + "i"] = _UNITS[_prefix + "ib"] = 1024**_power

_SIZE = re.compile(r" *(\d+(?:\.\d*)?|\.\d+) *([a-z]*) *", re.IGNORECASE)

_HINT = "a size is a number of bytes, or a number with a unit such as 512KiB, 20MiB or 1GB"


def parse_size(value: object) -> int:
    """Return ``value`` as a whole number of bytes; raise ``ValueError`` if it is not a size."""
    if isinstance(value, bool):  # bool is an int subclass, and `True` bytes is surely a typo
        raise ValueError(_HINT)
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if isinstance(value, float):
        if not value.is_integer() or value < 0:
            raise ValueError(_HINT)
        return int(value)
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is not None:
            number, unit = match.groups()
            multiplier = _UNITS.get(unit.lower())
            if multiplier is not None:
                return int(Decimal(number) * multiplier)
    raise ValueError(_HINT)


def format_size(size: int) -> str:
    """The shortest exact binary spelling: 20971520 → ``20MiB``, 1000 → ``1000B``."""
    for power in range(len(_PREFIXES), 0, -1):
        unit = 1024**power
        if size and size % unit == 0:
            return f"{size // unit}{_PREFIXES[power - 1].upper()}iB"
    return f"{size}B"
