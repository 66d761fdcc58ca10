"""Model tags: ``name:version``, where the version may be ``latest`` (resolved by the store)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

LATEST = "latest"

# Names and versions become directory names, so they may not contain separators or start with a dot.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class InvalidTag(ValueError):
    """A tag or a part of it that cannot name a model in the store."""


def _check(part: str, what: str, tag: str) -> str:
    if not _PART.match(part) or ".." in part:
        raise InvalidTag(
            f"invalid model {what} {part!r} in tag {tag!r}: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit, at most 63 characters"
        )
    return part


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    version: str | None = None

    def __post_init__(self) -> None:
        _check(self.name, "name", str(self))
        if self.version is not None:
            _check(self.version, "version", str(self))

    @classmethod
    def parse(cls, value: str | Tag) -> Tag:
        """``"iris_clf"`` and ``"iris_clf:latest"`` both mean the latest version."""
        if isinstance(value, Tag):
            return value
        name, sep, version = str(value).strip().partition(":")
        if sep and not version:
            raise InvalidTag(f"invalid model tag {value!r}: empty version after ':'")
        return cls(name, version or None)

    @property
    def is_latest(self) -> bool:
        return self.version is None or self.version == LATEST

    def __str__(self) -> str:
        return f"{self.name}:{self.version or LATEST}"


def new_version() -> str:
    """A fresh version: sortable by creation time, unique without coordination."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return f"{stamp}{secrets.token_hex(3)}"
