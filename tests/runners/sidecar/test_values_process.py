"""Every kind of value, one and several arguments, batched and not, through a real sidecar.

``tiffin runner kinds --runnable tests/runners/sample_runnables.py:Kinds`` on TCP and a Unix
socket; the caller is a ``runners.Runner`` as an API worker holds it.
"""

import asyncio
import datetime
import io
import pickle
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgpack
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import runners
from runners.wire import protocol

SAMPLES = Path(__file__).resolve().parents[1] / "sample_runnables.py"


@pytest.fixture(scope="module")
def kinds(start_sidecar: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    sock = tmp_path_factory.mktemp("kinds") / "kinds.sock"
    sidecar = start_sidecar("kinds", "--runnable", f"{SAMPLES}:Kinds", "--uds", str(sock))
    yield sidecar, f"http+unix://{quote(str(sock), safe='')}"
    sidecar.stop()


def call(samples: Any, url: str, body: Callable[[Any], Any]) -> Any:
    """Run ``body(runner)`` on a fresh loop with a started runner pointed at ``url``."""
    runner = runners.Runner(samples.Kinds, name="kinds")
    runner.configure(url=url, batching={"max_batch_size": 64})

    async def main() -> Any:
        await runner.startup()
        try:
            return await body(runner)
        finally:
            await runner.shutdown()

    return asyncio.run(main())


def test_every_kind_of_value_goes_there_and_back_as_itself(kinds: tuple[Any, str], samples: Any) -> None:
    _, url = kinds
    point = samples.Point(x=1.5, y=-2, tags=["a"])
    frame = pd.DataFrame({"f": [1.5, None], "s": ["x", None], "n": pd.array([1, None], dtype="Int64")}, index=[3, 4])
    series = pd.Series([1, 2], name="count", dtype="int32")
    image = Image.fromarray(np.arange(24, dtype=np.uint8).reshape(2, 4, 3), "RGB")
    values: list[Any] = [
        np.arange(6.0).reshape(2, 3),
        np.array(["ab", "c"]),
        np.array([True, False]),
        np.float32(0.25),
        frame,
        series,
        "héllo",
        b"\x00\xffbytes",
        None,
        True,
        7,
        2.5,
        [1, "two", None, [3.0]],
        {"k": [1, None], "n": {"m": b"x"}},
        (np.ones(2), np.zeros((1, 2))),
        point,
        [point, samples.Point(x=0, y=0)],
        image,
    ]

    async def body(runner: Any) -> list[Any]:
        return [await runner.echo.async_run(v) for v in values]

    for sent, back in zip(values, call(samples, url, body), strict=True):
        assert type(back) is type(sent)
        if isinstance(sent, pd.DataFrame):
            pd.testing.assert_frame_equal(back, sent)
        elif isinstance(sent, pd.Series):
            pd.testing.assert_series_equal(back, sent)
        elif isinstance(sent, np.ndarray):
            assert back.dtype == sent.dtype and np.array_equal(back, sent)
        elif isinstance(sent, tuple):
            assert all(np.array_equal(a, b) for a, b in zip(back, sent, strict=True))
        elif isinstance(sent, Image.Image):
            assert (back.mode, back.size, back.tobytes()) == (sent.mode, sent.size, sent.tobytes())
        else:
            assert back == sent


def test_several_positional_and_keyword_arguments_arrive_as_their_types(kinds: tuple[Any, str], samples: Any) -> None:
    _, url = kinds
    sample_module = samples.Point.__module__

    async def body(runner: Any) -> Any:
        echoed = await runner.echo.async_run(np.ones(2), "s", point=samples.Point(x=1, y=2), flag=False)
        types = await runner.types.async_run(
            pd.DataFrame({"a": [1]}), samples.Point(x=1, y=2), img=Image.new("L", (1, 1)), raw=b"x", when=None
        )
        return echoed, types, await asyncio.to_thread(runner.types.run, 1, 2.0, text="t")

    (args, kwargs), types, sync_types = call(samples, url, body)
    assert np.array_equal(args[0], np.ones(2)) and args[1] == "s"
    assert kwargs == {"point": samples.Point(x=1, y=2), "flag": False}
    assert types == {
        "args": ["pandas.DataFrame", f"{sample_module}.Point"],
        "kwargs": {"img": "PIL.Image.Image", "raw": "builtins.bytes", "when": "builtins.NoneType"},
    }
    assert sync_types == {"args": ["builtins.int", "builtins.float"], "kwargs": {"text": "builtins.str"}}


def test_batched_calls_with_several_arguments_merge_when_the_others_are_equal_and_split_exactly(
    kinds: tuple[Any, str], samples: Any
) -> None:
    _, url = kinds
    rng = np.random.default_rng(12)
    calls = []
    for i in range(120):
        n = int(rng.integers(1, 5))
        calls.append((rng.random((n, 3)), rng.random((n, 3)), [1.0, 2.0][i % 2]))

    async def body(runner: Any) -> tuple[list[Any], list[int], list[list[str]]]:
        results = await asyncio.gather(*(runner.affine.async_run(x, b, scale=s) for x, b, s in calls))
        texts = await asyncio.gather(*(runner.shout.async_run([f"t{i}"] * (i % 3 + 1), suffix="?") for i in range(30)))
        return results, await runner.batches_seen.async_run(), texts

    results, batches, texts = call(samples, url, body)
    for (x, b, s), (out, sums) in zip(calls, results, strict=True):
        assert out.shape == x.shape and np.allclose(out, x * s + b) and np.allclose(sums, (x * s + b).sum(axis=1))
    assert sum(batches) >= sum(len(x) for x, _, _ in calls)
    assert len(batches) < len(calls)  # merged: fewer model calls than callers
    assert texts == [[f"T{i}?"] * (i % 3 + 1) for i in range(30)]


def test_batched_dataframes_and_series_with_a_keyword_split_back_with_each_callers_index(
    kinds: tuple[Any, str], samples: Any
) -> None:
    _, url = kinds
    frames = [
        pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.ones(n)}, index=[f"r{i}-{j}" for j in range(n)])
        for i, n in enumerate([1, 3, 2, 4] * 10)
    ]
    weights = [pd.Series(np.full(len(f), 2.0), index=f.index) for f in frames]

    async def body(runner: Any) -> tuple[list[Any], list[int]]:
        before = len(await runner.batches_seen.async_run())
        pairs = zip(frames, weights, strict=True)
        results = await asyncio.gather(*(runner.weigh.async_run(f, w, scale=0.5) for f, w in pairs))
        return results, (await runner.batches_seen.async_run())[before:]

    results, batches = call(samples, url, body)
    for frame, result in zip(frames, results, strict=True):
        assert isinstance(result, pd.Series)
        pd.testing.assert_index_equal(result.index, frame.index)
        assert result.tolist() == ((frame["a"] + frame["b"]) * 2.0 * 0.5).tolist()
    assert sum(batches) == sum(len(f) for f in frames) and len(batches) < len(frames)


def test_errors_keep_the_type_name_and_message_of_what_the_model_raised(kinds: tuple[Any, str], samples: Any) -> None:
    _, url = kinds

    async def body(runner: Any) -> list[BaseException]:
        caught = []
        for kind in ("value", "key", "other"):
            try:
                await runner.fail.async_run(kind, f"{kind} went wrong")
            except Exception as exc:  # noqa: BLE001 - each one is checked below
                caught.append(exc)
        try:
            await runner.unsendable.async_run()
        except Exception as exc:  # noqa: BLE001
            caught.append(exc)
        return caught

    value, key, other, result = call(samples, url, body)
    assert isinstance(value, ValueError) and isinstance(value, runners.InvalidInput)
    assert type(value).__name__ == "ValueError" and str(value) == "value went wrong"
    assert isinstance(key, KeyError) and str(key) == "'key went wrong'"
    assert type(other).__name__ == "ModelBroke" and str(other) == "other went wrong"
    assert isinstance(other, runners.RunnerError) and other.status_code == 500
    assert type(other).__module__ == samples.ModelBroke.__module__
    assert isinstance(result, runners.RunnerError) and "the result['bad'] cannot be sent" in str(result.detail)


def test_a_pydantic_class_the_runner_cannot_import_is_refused_there(kinds: tuple[Any, str]) -> None:
    sidecar, _ = kinds
    for path in ("os:system", "no_such_module:Model", "builtins:dict"):
        body = msgpack.packb(
            [[msgpack.ExtType(5, msgpack.packb([path, {}]))], {}], use_bin_type=True
        )
        response = httpx.post(f"{sidecar.url}/echo", content=body, headers={"content-type": protocol.CALL})
        assert response.status_code == 400 and response.json()["type"] == "InvalidInput"


PICKLE_TYPES = ["application/python-pickle", "application/x-pickle", "application/octet-stream", None]


@pytest.mark.parametrize("content_type", PICKLE_TYPES)
def test_a_pickle_sent_to_every_route_is_refused_415_never_unpickled(
    kinds: tuple[Any, str], tmp_path: Path, content_type: str | None
) -> None:
    sidecar, uds = kinds
    marker = tmp_path / "unpickled"

    class Bomb:
        def __reduce__(self) -> Any:
            return (Path.touch, (marker,))

    payload = pickle.dumps(Bomb())
    headers = {"content-type": content_type} if content_type else {}
    socket_path = uds.removeprefix("http+unix://").replace("%2F", "/")
    methods = sorted(httpx.get(f"{sidecar.url}/info").json()["methods"])
    assert "echo" in methods and "affine" in methods
    for transport, base in ((None, sidecar.url), (httpx.HTTPTransport(uds=socket_path), "http://runner")):
        with httpx.Client(base_url=base, transport=transport, timeout=10) as client:
            for path in [f"/{m}" for m in methods] + ["/no_such_method"]:
                response = client.post(path, content=payload, headers=headers)
                assert response.status_code == 415, (path, response.text)
                assert response.json()["type"] == "UnsupportedMediaType"
            for path in ("/livez", "/healthz", "/readyz", "/info", "/metrics"):
                assert client.post(path, content=payload, headers=headers).status_code == 405
    # disguised as a type the runner takes, a pickle is a malformed body, not a value
    for media in (protocol.NPY, protocol.CALL, protocol.MSGPACK, protocol.DATAFRAME, protocol.JSON):
        response = httpx.post(f"{sidecar.url}/echo", content=payload, headers={"content-type": media})
        assert response.status_code in (400, 415) and response.json()["type"] != "RunnerError"
    assert not marker.exists()


def test_the_models_own_metrics_are_on_the_sidecars_metrics(
    kinds: tuple[Any, str], samples: Any, scrape: Callable[[str], dict[str, float]]
) -> None:
    sidecar, url = kinds
    before = scrape(sidecar.url).get('sample_kind_calls_total{method="echo"}', 0.0)

    async def body(runner: Any) -> None:
        for _ in range(5):
            await runner.echo.async_run("x")

    call(samples, url, body)
    metrics = scrape(sidecar.url)
    assert metrics['sample_kind_calls_total{method="echo"}'] == before + 5
    assert metrics['tiffin_runner_requests_total{method="echo",runner="kinds",status="200"}'] >= 5


def test_with_a_multiprocess_directory_the_page_is_built_from_it(
    start_sidecar: Callable[..., Any], tmp_path: Path, samples: Any, scrape: Callable[[str], dict[str, float]]
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    sidecar = start_sidecar(
        "kinds_mp", "--runnable", f"{SAMPLES}:Kinds", env={"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    )
    runner_url = sidecar.url

    async def body(runner: Any) -> None:
        for _ in range(3):
            await runner.types.async_run(1)

    runner = runners.Runner(samples.Kinds, name="kinds_mp")
    runner.configure(url=runner_url)

    async def main() -> None:
        await runner.startup()
        try:
            await body(runner)
        finally:
            await runner.shutdown()

    asyncio.run(main())
    metrics = scrape(sidecar.url)
    assert metrics['sample_kind_calls_total{method="types"}'] == 3
    assert metrics['tiffin_runner_requests_total{method="types",runner="kinds_mp",status="200"}'] == 3
    assert any(path.suffix == ".db" for path in directory.iterdir())
    sidecar.stop()


def test_json_from_curl_still_works_beside_msgpack(kinds: tuple[Any, str]) -> None:
    sidecar, _ = kinds
    response = httpx.post(f"{sidecar.url}/echo", json={"a": [1, 2]})
    assert response.json() == {"a": [1, 2]}
    buf = io.BytesIO()
    np.save(buf, np.arange(3))
    response = httpx.post(f"{sidecar.url}/echo", content=buf.getvalue(), headers={"content-type": protocol.NPY})
    assert response.headers["content-type"] == protocol.NPY
    assert np.load(io.BytesIO(response.content), allow_pickle=False).tolist() == [0, 1, 2]
    when = {"t": datetime.datetime(2020, 1, 1).isoformat(), "u": str(uuid.UUID(int=1))}
    assert httpx.post(f"{sidecar.url}/echo", json=when).json() == when
