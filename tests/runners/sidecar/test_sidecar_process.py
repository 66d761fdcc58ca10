"""Real sidecar processes: ``tiffin runner`` on free ports."""

import asyncio
import errno
import io
import os
import pickle
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_iris

import runners
from runners.wire import protocol
from tests.procs import tiffin
from tests.waiting import wait_until

PROBE = [[5.9, 3.0, 5.1, 1.8]]
SAMPLES = Path(__file__).resolve().parents[1] / "sample_runnables.py"


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def batches(scrape: Callable[[str], dict[str, float]], url: str, runner: str, method: str) -> tuple[float, float]:
    values = scrape(url)
    labels = f'{{method="{method}",runner="{runner}"}}'
    return values.get(f"tiffin_runner_batch_size_count{labels}", 0.0), values.get(
        f"tiffin_runner_batch_size_sum{labels}", 0.0
    )


def test_serves_npy_and_json_refuses_pickle_and_garbage_and_keeps_serving(iris_sidecar: Any) -> None:
    url = iris_sidecar.url
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/livez").status_code == 200
        response = client.post("/predict", content=npy(np.array(PROBE)), headers={"content-type": protocol.NPY})
        assert response.status_code == 200
        assert np.load(io.BytesIO(response.content), allow_pickle=False).tolist() == [2]
        assert client.post("/predict", json=PROBE).json() == [2]

        response = client.post(
            "/predict", content=pickle.dumps(np.array(PROBE)), headers={"content-type": "application/python-pickle"}
        )
        assert response.status_code == 415 and response.json()["type"] == "UnsupportedMediaType"
        response = client.post("/predict", content=b"\x93NUMPY garbage", headers={"content-type": protocol.NPY})
        assert response.status_code == 400 and response.json()["type"] == "InvalidInput"
        assert client.post("/predict", json=PROBE).json() == [2]
        info = client.get("/info").json()
        assert info["name"] == "iris_clf" and info["methods"]["predict"]["batchable"] is True


def test_400_concurrent_single_rows_are_answered_correctly_in_fewer_batches(
    iris_sidecar: Any, iris_models: dict[str, str], scrape: Callable[[str], dict[str, float]]
) -> None:
    x, _ = load_iris(return_X_y=True)
    rows = np.concatenate([x, x, x])[:400]
    expected = runners.sklearn.load_model(iris_models["iris_clf"]).predict(rows)
    runner = runners.sklearn.get("iris_clf:latest").to_runner()
    runner.configure(url=iris_sidecar.url)
    count_before, rows_before = batches(scrape, iris_sidecar.url, "iris_clf", "predict")

    async def main() -> list[Any]:
        await runner.startup()
        try:
            return await asyncio.gather(*(runner.predict.async_run(rows[i : i + 1]) for i in range(400)))
        finally:
            await runner.shutdown()

    results = asyncio.run(main())
    assert [int(r[0]) for r in results] == expected.tolist()
    count, rows_seen = batches(scrape, iris_sidecar.url, "iris_clf", "predict")
    assert rows_seen - rows_before == 400
    assert count - count_before < 400


def test_mixed_multi_row_requests_are_split_back_to_every_caller(
    doubler_sidecar: Any, samples: Any, scrape: Callable[[str], dict[str, float]]
) -> None:
    runner = runners.Runner(samples.Doubler, name="doubler")
    runner.configure(url=doubler_sidecar.url, batching={"max_batch_size": 32})  # as the sidecar was started
    rng = np.random.default_rng(3)
    inputs = [
        np.column_stack([np.full(n, i), np.arange(n), rng.random(n)]) for i, n in enumerate(rng.integers(1, 8, 200))
    ]
    count_before, rows_before = batches(scrape, doubler_sidecar.url, "doubler", "double")

    async def main() -> list[Any]:
        await runner.startup()
        try:
            return await asyncio.gather(*(runner.double.async_run(x) for x in inputs))
        finally:
            await runner.shutdown()

    results = asyncio.run(main())
    for x, result in zip(inputs, results, strict=True):
        assert result.shape == x.shape and np.array_equal(result, x * 2)
    count, rows_seen = batches(scrape, doubler_sidecar.url, "doubler", "double")
    assert rows_seen - rows_before == sum(len(x) for x in inputs)
    assert count - count_before < len(inputs)
    assert (
        scrape(doubler_sidecar.url)['tiffin_runner_batch_size_bucket{le="32.0",method="double",runner="doubler"}']
        == count
    )


def test_sigterm_lets_work_in_flight_finish_then_exits_cleanly(
    start_sidecar: Callable[..., Any], tmp_path: Path
) -> None:
    sidecar = start_sidecar("draining", "--runnable", f"{SAMPLES}:Doubler")
    started = tmp_path / "started"
    answer: list[httpx.Response] = []
    call = threading.Thread(
        target=lambda: answer.append(
            httpx.post(f"{sidecar.url}/hold", json={"started": str(started), "seconds": 1.0}, timeout=30)
        )
    )
    call.start()
    wait_until(started.exists, interval=0.01, message="the hold call running in the sidecar")
    sidecar.proc.send_signal(signal.SIGTERM)
    call.join(30)
    assert answer and answer[0].status_code == 200 and answer[0].json() == 1.0
    assert sidecar.proc.wait(30) == 0


def test_sigint_turns_readiness_off_while_work_drains_then_exits_cleanly(
    start_sidecar: Callable[..., Any], tmp_path: Path
) -> None:
    """Our handle_exit marks the host draining the moment uvicorn gets the signal; the drained
    stop exits 0 although uvicorn raises the signal again once it is done."""
    sock = tmp_path / "drain.sock"
    sidecar = start_sidecar("sigint", "--runnable", f"{SAMPLES}:Doubler", "--uds", str(sock))
    started = tmp_path / "started"
    answer: list[httpx.Response] = []
    call = threading.Thread(
        target=lambda: answer.append(
            httpx.post(f"{sidecar.url}/hold", json={"started": str(started), "seconds": 5.0}, timeout=60)
        )
    )
    call.start()
    wait_until(started.exists, message="the held call reaching the model")
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://sidecar", timeout=10) as uds:
        assert uds.get("/readyz").status_code == 200
        sidecar.proc.send_signal(signal.SIGINT)
        # the Unix socket serves until the drain ends, and says it is not ready meanwhile
        wait_until(lambda: uds.get("/readyz").status_code == 503, message="readiness turning off while draining")
        assert answer == []
    call.join(60)
    assert answer and answer[0].status_code == 200 and answer[0].json() == 5.0
    assert sidecar.proc.wait(30) == 0


def test_a_model_that_cannot_load_stops_the_process(tiffin_home: Path) -> None:
    argv = tiffin("runner", "nope", "--model", "no_such_model:latest", "--host", "127.0.0.1")
    result = subprocess.run(
        [*argv, "--port", "0"],
        check=False,
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "TIFFIN_HOME": str(tiffin_home)},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert result.returncode == 3
    assert "no_such_model" in result.stderr + result.stdout


def test_the_client_fails_fast_while_the_runner_is_down_and_recovers_when_it_returns(
    start_sidecar: Callable[..., Any], samples: Any
) -> None:
    sidecar = start_sidecar("phoenix", "--runnable", f"{SAMPLES}:Doubler")
    runner = runners.Runner(samples.Doubler, name="phoenix")
    runner.configure(url=sidecar.url, timeout=30)

    async def call() -> Any:
        return await runner.echo.async_run("hi")

    async def main() -> None:
        await runner.startup()
        assert await call() == "hi"  # a pooled keep-alive connection now exists
        sidecar.stop(signal.SIGKILL)
        for _ in range(3):
            with pytest.raises(runners.RunnerUnavailable) as caught:
                await call()
            # fast: the connection was refused, no connect or answer timeout was waited out
            assert f"[Errno {errno.ECONNREFUSED}]" in str(caught.value.detail), caught.value.detail
        assert not await runner.is_ready()
        back = await asyncio.to_thread(
            start_sidecar, "phoenix", "--runnable", f"{SAMPLES}:Doubler", port=sidecar.port
        )
        assert await call() == "hi"  # new connections to the new process
        assert await runner.is_ready()
        back.stop()
        await runner.shutdown()

    asyncio.run(main())


def test_the_pooled_transport_over_a_unix_socket_while_tcp_keeps_serving_metrics(
    start_sidecar: Callable[..., Any], samples: Any, tmp_path: Path, scrape: Callable[[str], dict[str, float]]
) -> None:
    sock = tmp_path / "doubler.sock"
    sidecar = start_sidecar("unixy", "--runnable", f"{SAMPLES}:Doubler", "--uds", str(sock))
    runner = runners.Runner(samples.Doubler, name="unixy")
    runner.configure(url=f"http+unix://{quote(str(sock), safe='')}")
    rng = np.random.default_rng(7)
    inputs = [rng.random((int(n), 3)) for n in rng.integers(1, 6, 300)]

    async def main() -> list[Any]:
        await runner.startup()
        try:
            assert await runner.is_ready()
            assert await runner.echo.async_run({"k": [1, None]}) == {"k": [1, None]}
            with pytest.raises(runners.InvalidInput):
                await runner.double.async_run(np.array([[-1.0]]))
            return await asyncio.gather(*(runner.double.async_run(x) for x in inputs))
        finally:
            await runner.shutdown()

    results = asyncio.run(main())
    for x, result in zip(inputs, results, strict=True):
        assert np.array_equal(result, x * 2)
    served = scrape(sidecar.url)  # over TCP, as Prometheus scrapes it
    assert served['tiffin_runner_requests_total{method="double",runner="unixy",status="200"}'] >= 1
    sidecar.stop()
    assert not sock.exists()  # the socket file goes with the process
