"""``Runnable``: the unit of model code a runner hosts, and ``@method`` to expose its methods.

    class Centroids(runners.Runnable):
        def __init__(self, scale: float = 1.0): ...

        @runners.method(batchable=True, batch_dim=0)
        def predict(self, x: np.ndarray) -> np.ndarray: ...

A batchable method takes one argument whose rows lie along ``batch_dim`` (an int, or a pair
``(input_dim, output_dim)``) and returns rows along the output dimension, one per input row;
the batcher relies on that to merge concurrent calls and split the result back.

A method that is a generator (sync or async) streams: each value it yields goes to the caller
as it is made (``runner.method.async_stream(x)``); it is never batched.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

_CONFIG_ATTR = "__tiffin_method__"


@dataclass(frozen=True, slots=True)
class MethodConfig:
    batchable: bool = False
    batch_dim: tuple[int, int] = (0, 0)
    stream: bool = False
    """The method is a generator: its values are streamed, one by one."""

    @classmethod
    def make(cls, batchable: bool = False, batch_dim: int | tuple[int, int] = 0, stream: bool = False) -> MethodConfig:
        dims = (batch_dim, batch_dim) if isinstance(batch_dim, int) else tuple(batch_dim)
        if len(dims) != 2 or not all(isinstance(d, int) for d in dims):
            raise TypeError(f"batch_dim must be an int or a pair of ints, not {batch_dim!r}")
        if batchable and stream:
            raise TypeError("a generator method streams its values and cannot be batchable")
        return cls(bool(batchable), (dims[0], dims[1]), bool(stream))

    def to_dict(self) -> dict[str, Any]:
        dim: int | list[int] = self.batch_dim[0] if self.batch_dim[0] == self.batch_dim[1] else list(self.batch_dim)
        body: dict[str, Any] = {"batchable": self.batchable, "batch_dim": dim}
        if self.stream:
            body["stream"] = True
        return body

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MethodConfig:
        return cls.make(
            bool(data.get("batchable", False)), _dim(data.get("batch_dim", 0)), bool(data.get("stream", False))
        )


def _dim(value: Any) -> int | tuple[int, int]:
    return value if isinstance(value, int) else tuple(value)  # JSON turns the pair into a list


@overload
def method(fn: F, /) -> F: ...
@overload
def method(*, batchable: bool = False, batch_dim: int | tuple[int, int] = 0) -> Callable[[F], F]: ...
def method(
    fn: F | None = None, /, *, batchable: bool = False, batch_dim: int | tuple[int, int] = 0
) -> F | Callable[[F], F]:
    """Expose a method of a ``Runnable``; usable bare (``@method``) or with options."""
    config = MethodConfig.make(batchable, batch_dim)  # wrong options fail here, at the decorator

    def mark(f: F) -> F:
        stream = inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f)
        setattr(f, _CONFIG_ATTR, MethodConfig.make(batchable, batch_dim, stream) if stream else config)
        return f

    return mark(fn) if fn is not None else mark


class _MethodDecorator(Protocol):
    @overload
    def __call__(self, fn: F, /) -> F: ...
    @overload
    def __call__(self, *, batchable: bool = False, batch_dim: int | tuple[int, int] = 0) -> Callable[[F], F]: ...


class Runnable:
    """Base class of model code served by a runner; one instance per runner process."""

    SUPPORTED_RESOURCES: ClassVar[tuple[str, ...]] = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING: ClassVar[bool] = False
    #: The model must run on the thread that created it (the runner's model thread). When it need
    #: not (plain numpy/scikit-learn code), very short batches run on the event loop instead.
    THREAD_AFFINE: ClassVar[bool] = True

    # ``@Runnable.method(...)``, as BentoML spells it; staticmethod() hides the overloads from type checkers.
    method: ClassVar[_MethodDecorator] = staticmethod(method)  # type: ignore[assignment]

    @classmethod
    def exposed_methods(cls) -> dict[str, MethodConfig]:
        found: dict[str, MethodConfig] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                config = getattr(value, _CONFIG_ATTR, None)
                if isinstance(config, MethodConfig):
                    found[name] = config
                elif name in found:
                    del found[name]  # overridden without @method: no longer exposed
        return found
