"""A service whose APIs send the runner what BentoML users send theirs: validated pydantic objects,
several arrays, text with a keyword; and a Runnable with a Prometheus metric of its own."""

from __future__ import annotations

from typing import Any

import numpy as np
import pydantic
from prometheus_client import Counter

import runners
from app import Service
from app.io import JSON, NumpyNdarray, Text

ECHOED = Counter("values_service_echoed", "Objects the runner echoed, by method.", ["method"])


class Order(pydantic.BaseModel):
    name: str
    endpoints: list[str]
    quantity: int = 1


class Echo(runners.Runnable):
    @runners.method(batchable=True, batch_dim=0)
    def echo_json(self, items: list[Any]) -> list[Any]:
        ECHOED.labels("echo_json").inc(len(items))
        return items

    @runners.method
    def echo_obj(self, obj: Any) -> Any:
        ECHOED.labels("echo_obj").inc()
        return obj

    @runners.method
    def describe(self, order: Order) -> dict[str, Any]:
        return {"class": type(order).__name__, "is_order": isinstance(order, Order), "total": order.quantity * 10}

    @runners.method
    def echo_multi_ndarray(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        return arrays

    @runners.method
    def predict_multi_ndarray(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a + b) // 2

    @runners.method
    def count_words(self, text: str, *, lower: bool = False) -> dict[str, int]:
        words = (text.lower() if lower else text).split()
        return {w: words.count(w) for w in sorted(set(words))}


echo_runner = runners.Runner(Echo, name="echo")
svc = Service("runner_values", runners=[echo_runner])


@svc.api(input=JSON(pydantic_model=Order), output=JSON())
async def echo_json_enforce_structure(order: Order) -> Any:
    return (await echo_runner.echo_json.async_run([order]))[0]


@svc.api(input=JSON(pydantic_model=Order), output=JSON())
async def echo_obj(order: Order) -> Any:
    back = await echo_runner.echo_obj.async_run(order)
    assert isinstance(back, Order)
    return back


@svc.api(input=JSON(pydantic_model=Order), output=JSON())
async def describe(order: Order) -> Any:
    return await echo_runner.describe.async_run(order)


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
async def predict_ndarray_multi_output(x: np.ndarray) -> np.ndarray:
    out1, out2 = await echo_runner.echo_multi_ndarray.async_run(x, x)
    return out1 + out2


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
async def predict_multi_ndarray(x: np.ndarray) -> np.ndarray:
    return await echo_runner.predict_multi_ndarray.async_run(x, x * 3)


@svc.api(input=Text(), output=JSON())
def count_words(text: str) -> Any:
    return echo_runner.count_words.run(text, lower=True)
