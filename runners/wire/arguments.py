"""``Arguments``: one call's positional and keyword arguments, and how calls share a batch.

In a batchable method every argument that has rows along ``batch_dim`` (a numpy array, a
DataFrame or Series, a list: ``runners.wire.rows``) is merged with the same argument of the other
calls; every other argument must be equal in all of them. So ``key`` is, argument by argument,
the layout of a batched one or the value of an unbatched one, and calls merge only when their keys
are equal. A call runs alone (``key`` is ``None``) when it has no batched argument, when its
batched arguments differ in row count, or when an unbatched one cannot be compared (anything but
``None``, bools, numbers, strings, bytes and tuples, lists and dicts of these).

A single positional argument keys as ``rows.key`` of that value, as before several arguments
were carried: the common case costs no more than it did.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from runners.wire import rows

__all__ = ["Arguments"]

_SCALARS = (type(None), bool, int, float, str, bytes)


class Arguments:
    __slots__ = ("args", "kwargs")  # made on every call on both sides: a slotted class is the cheapest

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Arguments):
            return NotImplemented
        return self.args == other.args and self.kwargs == other.kwargs

    __hash__ = None  # type: ignore[assignment]  # equal by value, and mutable

    def __repr__(self) -> str:
        return f"Arguments({self.args!r}, {self.kwargs!r})"

    @classmethod
    def of(cls, *args: Any, **kwargs: Any) -> Arguments:
        return cls(args, kwargs)

    def names(self) -> list[tuple[str, Any]]:
        """Each argument with how error messages name it: ``0``, ``1``, ... and ``'key'``."""
        return [(str(i), v) for i, v in enumerate(self.args)] + [(repr(k), v) for k, v in self.kwargs.items()]

    def layout(self, dim: int) -> tuple[Hashable | None, int]:
        """``(key, rows)``: what must match for calls to merge (``None``: run alone) and the rows (0 then)."""
        if not self.kwargs and len(self.args) == 1:
            value = self.args[0]
            key = rows.key(value, dim)
            return (key, rows.count(value, dim)) if key is not None else (None, 0)
        key = self._key(dim)
        return (key, self.count(dim)) if key is not None else (None, 0)

    def key(self, dim: int) -> Hashable | None:
        return self.layout(dim)[0]

    def _key(self, dim: int) -> Hashable | None:
        parts: list[Hashable] = []
        count: int | None = None
        for name, value in self._items():
            layout = rows.key(value, dim)
            if layout is None:
                same = _frozen(value)
                if same is None:
                    return None
                parts.append((name, False, same))
                continue
            n = rows.count(value, dim)
            if count is not None and n != count:
                return None
            count = n
            parts.append((name, True, layout))
        return None if count is None else ("call", tuple(parts))

    def count(self, dim: int) -> int:
        """Rows of the batched arguments (the same in each, when ``key`` is not ``None``)."""
        return rows.count(self.rows_of(dim), dim)

    def rows_of(self, dim: int) -> Any:
        """The first batched argument (whose index a pandas result gets back)."""
        if not self.kwargs and len(self.args) == 1:
            return self.args[0]
        for _, value in self._items():
            if rows.key(value, dim) is not None:
                return value
        return None

    @staticmethod
    def merge(calls: Sequence[Arguments], dim: int) -> Arguments:
        """One call of the batched arguments merged and the others as they are (all equal)."""
        first = calls[0]
        if not first.kwargs and len(first.args) == 1:
            return Arguments((rows.merge([c.args[0] for c in calls], dim),), {})

        def merged(value: Any, parts: list[Any]) -> Any:
            return rows.merge(parts, dim) if rows.key(value, dim) is not None else value

        args = tuple(merged(v, [c.args[i] for c in calls]) for i, v in enumerate(first.args))
        kwargs = {k: merged(v, [c.kwargs[k] for c in calls]) for k, v in first.kwargs.items()}
        return Arguments(args, kwargs)

    def _items(self) -> list[tuple[Hashable, Any]]:
        items: list[tuple[Hashable, Any]] = list(enumerate(self.args))
        items += sorted(self.kwargs.items())
        return items


def _frozen(value: Any) -> Hashable | None:
    """A hashable stand-in equal for equal values (``None`` for what is not compared)."""
    if type(value) in _SCALARS:
        return (type(value).__name__, value)
    if isinstance(value, np.generic) and not value.dtype.hasobject:
        return ("numpy", value.dtype.str, value.tobytes())
    if isinstance(value, list | tuple):
        items = [_frozen(v) for v in value]
        return None if None in items else (type(value).__name__, tuple(items))
    if isinstance(value, dict):
        pairs = [(_frozen(k), _frozen(v)) for k, v in value.items()]
        return None if any(None in p for p in pairs) else ("dict", tuple(pairs))
    return None
