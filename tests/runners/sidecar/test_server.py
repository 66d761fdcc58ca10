"""The sidecar app in process: httpx over ASGI, lifespan driven by hand."""

import asyncio
import contextlib
import io
import pickle
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import orjson
import pandas as pd
from prometheus_client import CollectorRegistry

from runners.sidecar.server import build_app
from runners.spec import BatchingOptions, RunnerSpec
from runners.store.model_store import ModelStore
from runners.wire import protocol
from tests.waiting import wait_until_async

T = TypeVar("T")
SAMPLES = Path(__file__).resolve().parents[1] / "sample_runnables.py"
PROBE = [[5.9, 3.0, 5.1, 1.8]]
FEATURES = ["sepal_len", "sepal_width", "petal_len", "petal_width"]


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def doubler(**init: Any) -> RunnerSpec:
    return RunnerSpec("doubler", runnable=f"{SAMPLES}:Doubler", init_params=init, batching=BatchingOptions(max_queue=2))


@contextlib.asynccontextmanager
async def serving(
    spec: RunnerSpec, *, ready: bool = True, **options: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = build_app(spec, registry=CollectorRegistry(), **options)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runner") as client:
            if ready:
                await until(client, lambda r: r.status_code == 200)
            yield app, client


async def until(client: httpx.AsyncClient, check: Any, path: str = "/readyz", within: float = 30.0) -> httpx.Response:
    """The first answer of ``path`` that passes ``check``."""
    last: list[httpx.Response] = []

    async def probe() -> httpx.Response | None:
        response = await client.get(path)
        last.append(response)
        return response if check(response) else None

    return await wait_until_async(
        probe,
        timeout=within,
        interval=0.01,
        message=lambda: f"{path} passing the check (last: {last[-1].status_code} {last[-1].text[:200]!r})",
    )


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_predicts_in_npy_and_json(iris_models: dict[str, str]) -> None:
    async def main() -> None:
        async with serving(RunnerSpec("iris_clf", model="iris_clf:latest")) as (_, client):
            response = await client.post(
                "/predict", content=npy(np.array(PROBE)), headers={"content-type": protocol.NPY}
            )
            assert response.status_code == 200 and response.headers["content-type"] == protocol.NPY
            assert np.load(io.BytesIO(response.content), allow_pickle=False).tolist() == [2]

            response = await client.post("/predict", json=PROBE)
            assert response.status_code == 200 and response.headers["content-type"] == protocol.JSON
            assert response.json() == [2]

            response = await client.post("/predict", json=PROBE, headers={"accept": protocol.NPY})
            assert response.headers["content-type"] == protocol.NPY

    run(main())


def test_a_dataframe_keeps_its_feature_names(iris_models: dict[str, str]) -> None:
    frame = pd.DataFrame(PROBE, columns=FEATURES)
    body, media = protocol.encode(frame)

    async def main() -> None:
        spec = RunnerSpec("iris_named", model="iris_clf_with_feature_names:latest")
        async with serving(spec) as (_, client):
            headers = {"content-type": media, "accept": protocol.CLIENT_ACCEPT}
            response = await client.post("/predict", content=body, headers=headers)
            assert response.status_code == 200, response.text
            assert protocol.decode(response.content, response.headers["content-type"]).tolist() == [2]

    run(main())


def test_pickles_are_refused_and_garbage_is_a_bad_request_and_it_keeps_serving(iris_models: dict[str, str]) -> None:
    async def main() -> None:
        async with serving(RunnerSpec("iris_clf", model="iris_clf:latest")) as (_, client):
            for media in ("application/python-pickle", "application/octet-stream"):
                response = await client.post("/predict", content=pickle.dumps(PROBE), headers={"content-type": media})
                assert response.status_code == 415
                assert response.json()["type"] == "UnsupportedMediaType"
            for body, media in ((b"\x00garbage", protocol.NPY), (b"[[1,", protocol.JSON), (b"[[1, 2]]", protocol.JSON)):
                response = await client.post("/predict", content=body, headers={"content-type": media})
                assert response.status_code == 400
                assert set(response.json()) >= {"error", "type"} and response.json()["type"] == "InvalidInput"
            assert (await client.post("/predict", json=PROBE)).json() == [2]

    run(main())


def test_routes_and_methods_that_do_not_exist() -> None:
    async def main() -> None:
        async with serving(doubler()) as (_, client):
            response = await client.post("/nope", json=[1])
            assert response.status_code == 404 and response.json()["type"] == "UnknownMethod"
            assert response.json()["detail"]["methods"] == ["column_sums", "crash", "double", "echo", "hold", "sleep"]
            assert (await client.get("/double")).status_code == 405
            assert (await client.post("/a/b", json=[1])).status_code == 404

    run(main())


def test_json_values_and_errors_from_model_code() -> None:
    async def main() -> None:
        async with serving(doubler()) as (_, client):
            body = orjson.dumps({"a": [1, 2]})
            response = await client.post("/echo", content=body, headers={"content-type": protocol.VALUE})
            assert response.json() == {"a": [1, 2]}
            response = await client.post("/crash", json=1)
            assert response.status_code == 500
            assert response.json() == {
                "error": "The runner failed to compute the result.",
                "type": "RunnerError",
                "detail": "RuntimeError",
                "raised": {"module": "builtins", "type": "RuntimeError", "message": "the model broke"},
            }

    run(main())


def test_deadlines_from_the_header() -> None:
    async def main() -> None:
        async with serving(doubler()) as (_, client):
            past = {protocol.DEADLINE_HEADER: str(time.time() - 1)}
            response = await client.post("/double", json=[[1.0]], headers=past)
            assert response.status_code == 504 and response.json()["type"] == "DeadlineExceeded"
            future = {protocol.DEADLINE_HEADER: str(time.time() + 30)}
            assert (await client.post("/double", json=[[1.0]], headers=future)).json() == [[2.0]]
            bad = {protocol.DEADLINE_HEADER: "soon"}
            assert (await client.post("/double", json=[[1.0]], headers=bad)).status_code == 400

    run(main())


def test_a_full_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    started = tmp_path / "started"
    depth = 'tiffin_runner_queue_depth{method="hold",runner="doubler"} 2.0'

    async def main() -> None:
        async with serving(doubler()) as (_, client):
            hold = {"started": str(started), "seconds": 0.3}
            slow = [asyncio.ensure_future(client.post("/hold", json=hold))]
            await until(client, lambda _: started.exists())  # it runs ...
            slow += [asyncio.ensure_future(client.post("/hold", json=hold)) for _ in range(2)]
            await until(client, lambda r: depth in r.text, path="/metrics")  # ... two wait: max_queue=2 is full
            response = await client.post("/hold", json=hold)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.json()["type"] == "RunnerOverloaded"
            assert [r.status_code for r in await asyncio.gather(*slow)] == [200, 200, 200]

    run(main())


def test_livez_answers_while_the_model_loads_and_readyz_follows_the_model() -> None:
    seen_error: list[BaseException] = []

    async def main() -> None:
        async with serving(doubler(load_seconds=1.0), ready=False) as (app, client):
            assert (await client.get("/livez")).status_code == 200
            response = await client.get("/readyz")
            assert response.status_code == 503 and response.json()["status"] == "loading"
            loading = await client.post("/double", json=[[1.0]])
            assert loading.status_code == 503 and loading.headers["retry-after"] == "1"
            assert (await until(client, lambda r: r.status_code == 200)).status_code == 200
            app.host.drain()  # what SIGTERM does
            response = await client.get("/readyz")
            assert response.status_code == 503 and response.json()["status"] == "draining"
            assert (await client.post("/double", json=[[1.0]])).status_code == 200  # in-flight work still served

        async with serving(
            RunnerSpec("gone", model="no_such_model:latest"), ready=False, on_load_error=seen_error.append
        ) as (_, client):
            response = await until(client, lambda r: r.json()["status"] == "failed")
            assert response.status_code == 503 and "no_such_model" in response.json()["error"]

    run(main())
    assert seen_error and "no_such_model" in str(seen_error[0])


def test_a_tampered_model_never_becomes_ready(iris_models: dict[str, str], tmp_path: Path) -> None:
    store = ModelStore.default()
    model = store.get(iris_models["iris_clf"])
    copy = store.export(str(model.tag), tmp_path / "export")
    other = ModelStore(tmp_path / "store")
    tampered = other.import_dir(copy)
    tampered.artifact_path.write_bytes(tampered.artifact_path.read_bytes()[:-10])

    async def main() -> None:
        async with serving(RunnerSpec("bad", model="iris_clf"), ready=False, store=other) as (_, client):
            response = await until(client, lambda r: r.json()["status"] == "failed")
            assert "checksum" in response.json()["error"]

    run(main())


def test_info_and_metrics(iris_models: dict[str, str]) -> None:
    async def main() -> None:
        async with serving(RunnerSpec("iris_clf", model="iris_clf:latest")) as (_, client):
            info = (await client.get("/info")).json()
            assert info["model"] == iris_models["iris_clf"]
            assert info["framework"] == "sklearn"
            assert info["methods"] == {"predict": {"batchable": True, "batch_dim": 0}}
            assert info["batching"] == {
                "enabled": True,
                "max_batch_size": 64,
                "max_latency_ms": 10.0,
                "max_queue": 1024,
            }
            await asyncio.gather(*(client.post("/predict", json=PROBE) for _ in range(20)))
            await client.post("/predict", content=b"x", headers={"content-type": "application/python-pickle"})
            text = (await client.get("/metrics")).text
            labels = 'method="predict",runner="iris_clf"'
            for line in (
                f'tiffin_runner_requests_total{{{labels},status="200"}} 20.0',
                f'tiffin_runner_requests_total{{{labels},status="415"}} 1.0',
                f'tiffin_runner_request_duration_seconds_count{{{labels},status="200"}} 20.0',
                f"tiffin_runner_batch_size_sum{{{labels}}} 20.0",
                f"tiffin_runner_queue_wait_seconds_count{{{labels}}} 20.0",
                f"tiffin_runner_queue_depth{{{labels}}} 0.0",
            ):
                assert line in text
            assert "tiffin_runner_inference_duration_seconds_count" in text
            assert "# TYPE tiffin_runner_rejected_total counter" in text

    run(main())
