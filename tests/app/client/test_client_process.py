"""The client against real ``tiffin serve`` processes: the iris classifier, limits and retries."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app.client import (
    AsyncClient,
    BadInput,
    Client,
    ConnectionFailed,
    DeadlineExceeded,
    SyncClient,
    Unavailable,
)
from tests.procs import Proc, free_port, free_port_block, tiffin
from tests.waiting import wait_until

IRIS = [[5.9, 3.0, 5.1, 1.8]]


def metric(text: str, name: str, **labels: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    )


@pytest.fixture(scope="module")
def iris(iris_home: Path) -> Iterator[str]:
    port = free_port_block(3)
    proc = Proc(tiffin("serve", "--host", "127.0.0.1", "--port", str(port)), env={"TIFFIN_HOME": str(iris_home)})
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    started = tmp_path_factory.mktemp("client")
    port = free_port()
    config = "tests/app/services/client_limits.yaml"
    argv = tiffin("serve", "--config", config, "--host", "127.0.0.1", "--port", str(port))
    proc = Proc(argv, env={"CLIENT_TEST_DIR": str(started)})
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
        yield f"http://127.0.0.1:{port}", started
    finally:
        proc.stop()


def test_the_iris_classifier_through_the_client(iris: str) -> None:
    with SyncClient(iris) as client:
        assert client.health().status == 200
        answer = client.classify(np.array(IRIS))
        assert isinstance(answer, np.ndarray) and answer.tolist() == [2]
        assert client.call("classify", IRIS).tolist() == [2]  # a list goes as JSON
        with pytest.raises(BadInput) as bad:
            client.classify(np.array([[1.0, 2.0, 3.0]]))
        assert bad.value.status_code == 400 and "shape" in bad.value.error


def test_values_round_trip_through_a_real_server(limited: tuple[str, Path]) -> None:
    url, _ = limited
    client = Client.from_url(url.removeprefix("http://"))  # BentoML allows a URL without its scheme
    scaled = client.scale(np.array([[2, 4]], dtype=np.int64))
    assert scaled.dtype == np.float32 and scaled.tolist() == [[1.0, 2.0]]
    assert client.shout("hey") == "HEY"
    table = client.double_col1(pd.DataFrame({"col1": [101], "name": ["x"]}))
    pd.testing.assert_frame_equal(table, pd.DataFrame({"col1": [202], "name": ["x"]}))
    png = io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(png, format="PNG")
    back = client.same_png(png.getvalue())
    assert isinstance(back, Image.Image) and back.size == (3, 2) and back.getpixel((0, 0)) == (1, 2, 3)

    async def concurrently() -> list[str]:
        try:
            return await asyncio.gather(*(client.async_shout(f"w{i}") for i in range(4)))
        finally:
            await client.aclose()  # the async side belongs to this loop, which ends here

    assert asyncio.run(concurrently()) == ["W0", "W1", "W2", "W3"]
    client.close()


def wait_for(path: Path) -> None:
    wait_until(path.exists, message=f"{path} appearing")


def test_a_503_is_retried_after_retry_after_within_the_deadline(limited: tuple[str, Path]) -> None:
    url, started = limited
    before = metric(httpx.get(url + "/metrics").text, "tiffin_http_requests_total", endpoint="/sleep", status="503")
    with SyncClient(url, timeout=30) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.sleep, {"seconds": 0.8, "n": 1})
        wait_for(started / "started-1")  # the one slot is taken: the next call gets 503 + Retry-After
        assert client.sleep({"seconds": 0, "n": 2}) == {"seconds": 0, "n": 2}
        assert first.result() == {"seconds": 0.8, "n": 1}
    after = metric(httpx.get(url + "/metrics").text, "tiffin_http_requests_total", endpoint="/sleep", status="503")
    assert after - before >= 1  # it was refused, then retried


def test_when_the_deadline_leaves_no_room_the_503_or_the_timeout_is_raised(limited: tuple[str, Path]) -> None:
    url, started = limited
    with SyncClient(url, timeout=0.9) as impatient, SyncClient(url) as patient:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(patient.sleep, {"seconds": 1.5, "n": 3})
            wait_for(started / "started-3")
            with pytest.raises(Unavailable) as refused:
                impatient.sleep({"seconds": 0, "n": 4})
            assert refused.value.retry_after is not None and refused.value.status_code == 503
            first.result()
        with pytest.raises(DeadlineExceeded):
            impatient.sleep({"seconds": 3, "n": 5})


def test_async_client_against_the_real_server(limited: tuple[str, Path]) -> None:
    url, _ = limited

    async def main() -> None:
        client = await AsyncClient.from_url(url)
        try:
            assert (await client.health()).status == 200
            assert await client.shout("a") == "A"
            with pytest.raises(BadInput):
                await client.scale(np.array([["x"]]))
        finally:
            await client.close()

    asyncio.run(main())


def test_no_server_is_a_connection_failure() -> None:
    with pytest.raises(ConnectionFailed, match="cannot reach"):
        SyncClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DeadlineExceeded):
        SyncClient.wait_until_server_ready("127.0.0.1", free_port(), timeout=0.5)
